"""chat.postMessage, chat.update, chat.postEphemeral and chat.delete, as Slack answers them.

Content is checked by slack_limits (Slack's codes: no_text, msg_too_long, invalid_blocks,
invalid_blocks_format, ...). Slack fills in block_id/action_id when a message leaves them out;
so does this. chat.update keeps whatever part (text, blocks, attachments) the call omits and
records the previous version in the message's edit history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sandbox.slack_api_base import Method, MethodContext, flag, optional_str, postable_channel
from sandbox.slack_blocks import with_generated_ids
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_limits import MessageContent, message_content
from sandbox.slack_workspace import Workspace


def checked_content(args: Mapping[str, Any], *, require_content: bool = True) -> MessageContent:
    """Message content from call arguments, validated, with Slack's generated ids filled in."""
    content = message_content(args, require_content=require_content)
    if content.blocks:
        content = replace(content, blocks=with_generated_ids(content.blocks))
    return content


def post_message(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    channel = postable_channel(ws, args)
    content = checked_content(args)
    message = ws.post(
        channel,
        content,
        via="chat.postMessage",
        thread_ts=optional_str(args, "thread_ts"),
        reply_broadcast=flag(args.get("reply_broadcast")),
    )
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": message.api()}


def update(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    with ws.lock:
        message = ws.message(channel, args.get("ts"))
        if message.user != ws.bot_user_id:
            raise SlackAPIError("cant_update_message")
        content = checked_content(args)
        message.replace(content, by=ws.bot_user_id, at=ws.next_ts())
        ws.notify()
        return {
            "ok": True,
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": message.api(),
        }


def post_ephemeral(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    channel = postable_channel(ws, args)
    user = args.get("user")
    if not isinstance(user, str) or user not in ws.users or user not in channel.members:
        raise SlackAPIError("user_not_in_channel")
    content = checked_content(args)
    ephemeral = ws.post_ephemeral(
        channel, user, content, via="chat.postEphemeral", thread_ts=optional_str(args, "thread_ts")
    )
    return {"ok": True, "message_ts": ephemeral.ts}


def delete(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    with ws.lock:
        message = ws.message(channel, args.get("ts"))
        if message.user != ws.bot_user_id:
            raise SlackAPIError("cant_delete_message")
        ws.delete(message)
        return {"ok": True, "channel": channel.id, "ts": message.ts}


METHODS: dict[str, Method] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.delete": delete,
}
