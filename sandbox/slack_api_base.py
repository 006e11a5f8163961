"""What every Web API method of the stand-in shares: its signature and argument helpers.

A method is a function ``(workspace, args, context) -> response dict``; it raises
:class:`~sandbox.slack_errors.SlackAPIError` for Slack's ``ok: false`` answers. ``args`` merge
the query string and the body (form or JSON) with the token already removed, so values are
strings for form calls and JSON values for JSON calls; the helpers accept both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.slack_errors import SlackAPIError
from sandbox.slack_model import Channel
from sandbox.slack_workspace import Workspace


@dataclass(frozen=True)
class MethodContext:
    """Facts about the serving sandbox a method may need (e.g. to build upload URLs)."""

    base_url: str


Method = Callable[[Workspace, Mapping[str, Any], MethodContext], dict[str, Any]]


def flag(value: Any) -> bool:
    """A boolean argument: ``true``/``1`` (any case) or a JSON true."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")


def optional_str(args: Mapping[str, Any], name: str) -> str | None:
    """A string argument, None when absent or empty."""
    value = args.get(name)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def postable_channel(ws: Workspace, args: Mapping[str, Any]) -> Channel:
    """The ``channel`` argument resolved, and the bot must be a member to post there."""
    channel = ws.channel(args.get("channel"))
    if ws.bot_user_id not in channel.members:
        raise SlackAPIError("not_in_channel")
    return channel
