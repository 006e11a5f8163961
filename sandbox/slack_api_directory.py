"""auth.test, conversations.info/open/replies/history, users.info, usergroups.users.list.

Response shapes and error codes follow the method references on docs.slack.dev
(``channel_not_found``, ``thread_not_found``, ``user_not_found``, ``no_such_subteam``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.slack_api_base import Method, MethodContext, flag, optional_str
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_workspace import Workspace

MAX_IM_USERS = 1


def auth_test(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    return {
        "ok": True,
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_domain,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


def conversations_info(
    ws: Workspace, args: Mapping[str, Any], ctx: MethodContext
) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise SlackAPIError("channel_not_found")
    doc = channel.api(ws.bot_user_id, include_num_members=flag(args.get("include_num_members")))
    return {"ok": True, "channel": doc}


def conversations_open(
    ws: Workspace, args: Mapping[str, Any], ctx: MethodContext
) -> dict[str, Any]:
    channel_ref = optional_str(args, "channel")
    users = optional_str(args, "users")
    if channel_ref is not None:
        channel = ws.channel(channel_ref)
        if not channel.is_im:
            raise SlackAPIError("method_not_supported_for_channel_type")
        existed = True
    elif users is not None:
        ids = [u.strip() for u in users.split(",") if u.strip()]
        if len(ids) > MAX_IM_USERS:
            raise SlackAPIError(
                "invalid_arguments", ["[ERROR] the sandbox opens 1:1 direct messages only"]
            )
        channel, existed = ws.open_im(ids[0])
    else:
        raise SlackAPIError("users_list_not_supplied")
    doc: dict[str, Any] = {"ok": True}
    if existed:
        doc["no_op"] = True
        doc["already_open"] = True
    full = flag(args.get("return_im")) or existed
    doc["channel"] = channel.api(ws.bot_user_id) if full else {"id": channel.id}
    return doc


def conversations_replies(
    ws: Workspace, args: Mapping[str, Any], ctx: MethodContext
) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    with ws.lock:
        messages = [m.api() for m in ws.thread(channel, args.get("ts"))]
    return {"ok": True, "messages": messages, "has_more": False}


def conversations_history(
    ws: Workspace, args: Mapping[str, Any], ctx: MethodContext
) -> dict[str, Any]:
    channel = ws.channel(args.get("channel"))
    try:
        limit = int(optional_str(args, "limit") or 100)
    except ValueError:
        raise SlackAPIError("invalid_limit") from None
    tops = [m.api() for m in ws.top_level(channel) if not m.deleted]
    tops.reverse()  # newest first, as Slack returns them
    return {"ok": True, "messages": tops[:limit], "has_more": len(tops) > limit}


def users_info(ws: Workspace, args: Mapping[str, Any], ctx: MethodContext) -> dict[str, Any]:
    user = ws.users.get(str(args.get("user") or ""))
    if user is None:
        raise SlackAPIError("user_not_found")
    return {"ok": True, "user": user.api(ws.team_id)}


def usergroups_users_list(
    ws: Workspace, args: Mapping[str, Any], ctx: MethodContext
) -> dict[str, Any]:
    group = ws.usergroups.get(str(args.get("usergroup") or ""))
    if group is None:
        raise SlackAPIError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "conversations.replies": conversations_replies,
    "conversations.history": conversations_history,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
}
