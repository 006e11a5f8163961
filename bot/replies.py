"""Small answers shared by the command and button handlers: where a message went, and that it
could not be posted."""

from __future__ import annotations

from bot.blocks import error_message
from bot.blocks_kit import message, section
from bot.runtime import BotRuntime, Requester


def tell_where(rt: BotRuntime, req: Requester, channel_id: str, what: str) -> None:
    """Tell the requester that ``what`` (escaped mrkdwn) was posted in another channel than
    theirs."""
    if channel_id and channel_id != req.channel_id:
        text = f":point_right: {what} in <#{channel_id}>."
        rt.tell(req, message(text, [section(text)]))


def cannot_post(rt: BotRuntime, req: Requester, channel: str, what: str) -> None:
    """Tell the requester the bot could not post in ``channel`` (most often: not a member)."""
    rt.tell(
        req,
        error_message(
            f"{what}, but I could not post in {channel}: invite me there "
            "(/invite @kajitori) or check the channel routes in the settings."
        ),
    )
