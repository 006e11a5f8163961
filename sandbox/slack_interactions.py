"""Driving a bot's HTTP endpoint the way Slack does: slash commands, button clicks, modal
submissions, each signed, each with a response_url on the sandbox.

The bodies and signatures come from slack_signing; this module fills them with the workspace's
people, channels and messages, sends them (stdlib urllib, so no client library is involved),
and applies a slash command's immediate answer as Slack would show it. Bad test setup (an
unknown user, channel, message or button) raises ``ValueError`` naming what is missing.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox.slack_errors import SlackAPIError
from sandbox.slack_model import Channel, User
from sandbox.slack_responses import Hook, ResponseHooks
from sandbox.slack_signing import (
    SignatureMode,
    block_actions_payload,
    button_action,
    interactive_form,
    signed_headers,
    slash_command_fields,
    view_submission_payload,
)
from sandbox.slack_workspace import Workspace


@dataclass
class BotReply:
    """The bot's HTTP answer to one request from "Slack"."""

    status: int
    body: bytes
    headers: dict[str, str]
    elapsed: float
    response_url: str | None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.text) if self.body.strip() else None


def deliver(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> BotReply:
    """POST ``body`` to ``url``; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
            status = response.status
            answer_headers = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as err:
        data = err.read()
        status = err.code
        answer_headers = {k.lower(): v for k, v in err.headers.items()}
    elapsed = time.perf_counter() - started
    return BotReply(status, data, answer_headers, elapsed, None)


def _find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict[str, Any], str]:
    """(element, block_id) of the interactive element with ``action_id``."""
    seen: list[str] = []
    for block in blocks:
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and "action_id" in element:
                seen.append(str(element["action_id"]))
                if element["action_id"] == action_id:
                    return element, str(block.get("block_id", ""))
    raise ValueError(f"no element with action_id {action_id!r} in the message; it has {seen}")


class Interactions:
    """Builds, signs and sends Slack's requests to a bot."""

    def __init__(
        self,
        ws: Workspace,
        hooks: ResponseHooks,
        signing_secret: str,
        base_url: Callable[[], str],
    ) -> None:
        self.ws = ws
        self.hooks = hooks
        self.signing_secret = signing_secret
        self.base_url = base_url

    def _user(self, user_id: str) -> User:
        user = self.ws.users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id!r}; known: {sorted(self.ws.users)}")
        return user

    def _channel(self, channel_ref: str) -> Channel:
        channel = self.ws.channels.get(channel_ref)
        if channel is None:
            raise ValueError(f"unknown channel {channel_ref!r}; known: {sorted(self.ws.channels)}")
        return channel

    def _trigger_id(self) -> str:
        return f"{int(self.ws.clock())}.{self.ws.team_id}.{self.ws.new_id('')}"

    def _send(self, url: str, body: bytes, signature: SignatureMode, timeout: float) -> BotReply:
        headers = signed_headers(self.signing_secret, body, self.ws.clock(), signature)
        return deliver(url, body, headers, timeout)

    def slash_command_payload(
        self, command: str, text: str, *, user_id: str, channel_id: str
    ) -> tuple[Hook, dict[str, str]]:
        """A slash command's fields (with a new response_url) and the response_url's hook."""
        user = self._user(user_id)
        channel = self._channel(channel_id)
        hook = self.hooks.create("commands", channel.id, user.id)
        fields = slash_command_fields(
            command=command,
            text=text,
            user_id=user.id,
            user_name=user.name,
            channel_id=channel.id,
            channel_name=channel.name,
            team_id=self.ws.team_id,
            team_domain=self.ws.team_domain,
            api_app_id=self.ws.app_id,
            response_url=self.base_url() + self.hooks.path(hook),
            trigger_id=self._trigger_id(),
        )
        return hook, fields

    def slash_command(
        self,
        bot_url: str,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        signature: SignatureMode,
        timeout: float,
    ) -> BotReply:
        """Send a signed slash command; show its immediate answer as Slack does."""
        hook, fields = self.slash_command_payload(
            command, text, user_id=user_id, channel_id=channel_id
        )
        reply = self._send(bot_url, urlencode(fields).encode(), signature, timeout)
        reply.response_url = fields["response_url"]
        if reply.status == 200:
            self.hooks.apply_ack(hook, reply.body, reply.headers.get("content-type", ""))
        return reply

    def click_payload(
        self, channel_id: str, ts: str, action_id: str, *, user_id: str
    ) -> dict[str, Any]:
        """The block_actions payload of a click on button ``action_id`` of a stored message
        or ephemeral, with a new response_url."""
        user = self._user(user_id)
        channel = self._channel(channel_id)
        with self.ws.lock:
            ephemeral = self.ws.ephemeral(channel.id, ts)
            if ephemeral is not None:
                if ephemeral.user != user.id:
                    raise ValueError(f"ephemeral {ts} is visible to {ephemeral.user} only")
                blocks, message = ephemeral.blocks, None
            else:
                try:
                    found = self.ws.message(channel, ts)
                except SlackAPIError:
                    raise ValueError(f"no message {ts} in {channel.id}") from None
                blocks, message = found.blocks, found.api()
            element, block_id = _find_element(blocks, action_id)
            action_ts = self.ws.next_ts()
        hook = self.hooks.create(
            "actions", channel.id, user.id, source_ts=ts, source_ephemeral=ephemeral is not None
        )
        return block_actions_payload(
            user=self._user_ref(user),
            team={"id": self.ws.team_id, "domain": self.ws.team_domain},
            channel={"id": channel.id, "name": channel.name},
            container={
                "type": "message",
                "message_ts": ts,
                "channel_id": channel.id,
                "is_ephemeral": ephemeral is not None,
            },
            message=message,
            actions=[button_action(element, block_id, action_ts)],
            response_url=self.base_url() + self.hooks.path(hook),
            trigger_id=self._trigger_id(),
            api_app_id=self.ws.app_id,
        )

    def click_button(
        self,
        bot_url: str,
        channel_id: str,
        ts: str,
        action_id: str,
        *,
        user_id: str,
        signature: SignatureMode,
        timeout: float,
    ) -> BotReply:
        """Send a signed block_actions click on a button of a stored message or ephemeral."""
        payload = self.click_payload(channel_id, ts, action_id, user_id=user_id)
        reply = self._send(bot_url, interactive_form(payload), signature, timeout)
        reply.response_url = payload["response_url"]
        return reply

    def block_action_payload(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A caller-built block_actions payload, with a response_url added if missing."""
        doc = dict(payload)
        doc.setdefault("type", "block_actions")
        if not doc.get("response_url"):
            container = doc.get("container") or {}
            channel_id = str(container.get("channel_id") or (doc.get("channel") or {}).get("id"))
            user_id = str((doc.get("user") or {}).get("id"))
            hook = self.hooks.create(
                "actions",
                channel_id,
                user_id,
                source_ts=container.get("message_ts"),
                source_ephemeral=bool(container.get("is_ephemeral")),
            )
            doc["response_url"] = self.base_url() + self.hooks.path(hook)
        return doc

    def block_action(
        self,
        bot_url: str,
        payload: Mapping[str, Any],
        *,
        signature: SignatureMode,
        timeout: float,
    ) -> BotReply:
        """Send a caller-built block_actions payload; a response_url is added if missing."""
        doc = self.block_action_payload(payload)
        reply = self._send(bot_url, interactive_form(doc), signature, timeout)
        reply.response_url = str(doc["response_url"])
        return reply

    def view_payload(self, view: Mapping[str, Any], *, user_id: str) -> dict[str, Any]:
        """The view_submission payload of ``view`` submitted by ``user_id``."""
        user = self._user(user_id)
        return view_submission_payload(
            user=self._user_ref(user),
            team={"id": self.ws.team_id, "domain": self.ws.team_domain},
            view={"id": self.ws.new_id("V"), "team_id": self.ws.team_id, **dict(view)},
            trigger_id=self._trigger_id(),
            api_app_id=self.ws.app_id,
            response_urls=[],
        )

    def view_submission(
        self,
        bot_url: str,
        view: Mapping[str, Any],
        *,
        user_id: str,
        signature: SignatureMode,
        timeout: float,
    ) -> BotReply:
        """Send a signed view_submission of ``view`` by ``user_id``."""
        payload = self.view_payload(view, user_id=user_id)
        return self._send(bot_url, interactive_form(payload), signature, timeout)

    def _user_ref(self, user: User) -> dict[str, Any]:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": self.ws.team_id}
