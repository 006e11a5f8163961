"""response_url: the per-interaction webhook Slack hands an app, served by the sandbox.

Every slash command and block action the sandbox sends to a bot carries a response_url on the
sandbox. What the app posts there (or answers in its immediate HTTP response to a slash
command) is applied the way Slack applies it and recorded, so a test can read what the person
saw:

- ``delete_original: true`` deletes the message the interaction came from;
- ``replace_original: true`` replaces it (an edit of a channel message, or the ephemeral it came
  from; for a slash command, the last ephemeral this response_url produced);
- otherwise a new message: ``response_type: "in_channel"`` in the channel for everyone, else
  ephemeral to the person who acted (Slack's default).

Slack allows a response_url to be used at most 5 times within 30 minutes; after that the
sandbox answers 404 ``used_url`` / ``expired_url``. Payload errors answer 400 with Slack's
message codes (``no_text``, ``invalid_blocks``, ...). These status codes are this stand-in's
choice; Slack documents the limits, not the exact answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack_api_chat import checked_content
from sandbox.slack_errors import SlackAPIError
from sandbox.slack_workspace import Workspace

MAX_USES = 5
LIFETIME_SECONDS = 30 * 60


@dataclass
class Hook:
    """One response_url: where the interaction happened and what was posted to it."""

    id: str
    kind: str
    channel_id: str
    user_id: str
    created_at: float
    source_ts: str | None = None
    source_ephemeral: bool = False
    uses: int = 0
    last_ephemeral_ts: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)


class ResponseHooks:
    """The response_urls handed out, and the effect of everything posted to them."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._lock = threading.Lock()
        self._hooks: dict[str, Hook] = {}
        self._seq = 0

    def create(
        self,
        kind: str,
        channel_id: str,
        user_id: str,
        *,
        source_ts: str | None = None,
        source_ephemeral: bool = False,
    ) -> Hook:
        """Hand out a response_url for an interaction by ``user_id`` in ``channel_id``."""
        with self._lock:
            self._seq += 1
            hook_id = f"{self._ws.team_id}-{self._seq:06d}"
            hook = Hook(
                hook_id,
                kind,
                channel_id,
                user_id,
                created_at=self._ws.clock(),
                source_ts=source_ts,
                source_ephemeral=source_ephemeral,
            )
            self._hooks[hook_id] = hook
            return hook

    @staticmethod
    def path(hook: Hook) -> str:
        """The sandbox path of a hook, shaped like Slack's hooks.slack.com/<kind>/... URLs."""
        return f"/hooks/{hook.kind}/{hook.id}"

    def get(self, hook_id: str) -> Hook | None:
        with self._lock:
            return self._hooks.get(hook_id)

    def post(self, hook_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """An HTTP POST to a response_url: (status, JSON answer)."""
        hook = self.get(hook_id)
        if hook is None:
            return 404, {"ok": False, "error": "invalid_url"}
        with self._ws.lock:
            if self._ws.clock() - hook.created_at > LIFETIME_SECONDS:
                return self._record(hook, "response_url", None, 404, "expired_url")
            if hook.uses >= MAX_USES:
                return self._record(hook, "response_url", None, 404, "used_url")
            hook.uses += 1
            try:
                doc = json.loads(body.decode("utf-8") or "null")
            except (UnicodeDecodeError, ValueError):
                doc = None
            if not isinstance(doc, dict):
                return self._record(hook, "response_url", None, 400, "invalid_payload")
            return self._apply(hook, doc, "response_url")

    def apply_ack(self, hook: Hook, body: bytes, content_type: str) -> None:
        """Apply a slash command's immediate HTTP answer (an app's ``ack(...)`` with content)."""
        text = body.decode("utf-8", errors="replace").strip()
        if not text:
            return
        doc: Any
        if content_type.split(";")[0].strip().lower() == "application/json":
            try:
                doc = json.loads(text)
            except ValueError:
                doc = {"text": text}
        else:
            doc = {"text": text}
        if isinstance(doc, dict):
            with self._ws.lock:
                self._apply(hook, doc, "ack")

    def _apply(self, hook: Hook, doc: dict[str, Any], via: str) -> tuple[int, dict[str, Any]]:
        ws = self._ws
        try:
            channel = ws.channel(hook.channel_id)
            if doc.get("delete_original") is True:
                effect = self._delete_original(hook)
            elif doc.get("replace_original") is True:
                effect = self._replace_original(hook, doc)
            else:
                effect = self._new_message(hook, doc, channel.id)
        except SlackAPIError as err:
            return self._record(hook, via, doc, 400, err.code, err.messages)
        self._ws.notify()
        return self._record(hook, via, doc, 200, None, effect=effect)

    def _delete_original(self, hook: Hook) -> dict[str, Any]:
        ws = self._ws
        if hook.source_ts is None:
            raise SlackAPIError("message_not_found")
        if hook.source_ephemeral:
            ephemeral = ws.ephemeral(hook.channel_id, hook.source_ts)
            if ephemeral is None:
                raise SlackAPIError("message_not_found")
            ephemeral.deleted = True
        else:
            ws.delete(ws.message(ws.channel(hook.channel_id), hook.source_ts))
        return {"deleted": hook.source_ts}

    def _replace_original(self, hook: Hook, doc: dict[str, Any]) -> dict[str, Any]:
        ws = self._ws
        content = checked_content(doc)
        target = hook.source_ts
        ephemeral_target = hook.source_ephemeral
        if target is None:  # a slash command: replace the ephemeral this hook produced
            target, ephemeral_target = hook.last_ephemeral_ts, True
        if target is None:
            return self._new_message(hook, doc, hook.channel_id)
        if ephemeral_target:
            ephemeral = ws.ephemeral(hook.channel_id, target)
            if ephemeral is None:
                raise SlackAPIError("message_not_found")
            ephemeral.replace(content, by=ws.bot_user_id, at=ws.next_ts())
        else:
            message = ws.message(ws.channel(hook.channel_id), target)
            message.replace(content, by=ws.bot_user_id, at=ws.next_ts())
        return {"replaced": target, "ephemeral": ephemeral_target}

    def _new_message(self, hook: Hook, doc: dict[str, Any], channel_id: str) -> dict[str, Any]:
        ws = self._ws
        content = checked_content(doc)
        channel = ws.channel(channel_id)
        thread_ts = doc.get("thread_ts") if isinstance(doc.get("thread_ts"), str) else None
        if doc.get("response_type") == "in_channel":
            message = ws.post(channel, content, via="response_url", thread_ts=thread_ts)
            return {"posted": message.ts, "response_type": "in_channel"}
        ephemeral = ws.post_ephemeral(
            channel, hook.user_id, content, via="response_url", thread_ts=thread_ts
        )
        hook.last_ephemeral_ts = ephemeral.ts
        return {"posted": ephemeral.ts, "response_type": "ephemeral"}

    def _record(
        self,
        hook: Hook,
        via: str,
        doc: dict[str, Any] | None,
        status: int,
        error: str | None,
        messages: list[str] | None = None,
        effect: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        answer: dict[str, Any] = {"ok": error is None}
        if error is not None:
            answer["error"] = error
            if messages:
                answer["response_metadata"] = {"messages": messages}
        hook.posts.append(
            {"via": via, "body": doc, "status": status, "error": error, "effect": effect or {}}
        )
        self._ws.notify()
        return status, answer

    def records(self, hook_id: str | None = None) -> list[dict[str, Any]]:
        """What was posted to one response_url (or all of them), in order, with effects."""
        with self._ws.lock, self._lock:
            hooks = [self._hooks[hook_id]] if hook_id in self._hooks else []
            if hook_id is None:
                hooks = list(self._hooks.values())
            return [
                {"response_url_id": h.id, "kind": h.kind, "user": h.user_id, **post}
                for h in hooks
                for post in h.posts
            ]

    def clear(self) -> None:
        with self._lock:
            self._hooks.clear()
