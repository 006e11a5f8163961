"""The things a Slack workspace holds, as the stand-in stores them, and how each one looks
in a Web API response (``api()``) and in the sandbox's own JSON view (``view()``).

Pure data: no I/O, no clock. IDs follow Slack's shapes (``U…`` users, ``C…`` channels, ``D…``
direct messages, ``S…`` user groups, ``F…`` files); timestamps are ``"<seconds>.<micros>"``
strings, unique per workspace, as Slack's ``ts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.slack_limits import MessageContent


@dataclass
class User:
    """A member of the workspace (a person or the app's bot user)."""

    id: str
    name: str
    real_name: str = ""
    email: str = ""
    is_admin: bool = False
    is_bot: bool = False
    tz: str = "UTC"
    deleted: bool = False

    def api(self, team_id: str) -> dict[str, Any]:
        """The user object of users.info."""
        real_name = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_app_user": False,
            "tz": self.tz,
            "profile": {
                "real_name": real_name,
                "display_name": self.name,
                "email": self.email,
                "team": team_id,
            },
        }


@dataclass
class Channel:
    """A conversation: public/private channel, or a direct message with one user."""

    id: str
    name: str
    members: list[str]
    is_private: bool = False
    im_user: str | None = None
    created: int = 0
    topic: str = ""
    purpose: str = ""

    @property
    def is_im(self) -> bool:
        return self.im_user is not None

    def api(self, bot_user_id: str, *, include_num_members: bool = False) -> dict[str, Any]:
        """The channel object of conversations.info / conversations.open."""
        if self.im_user is not None:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_open": True,
            }
        doc: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }
        if include_num_members:
            doc["num_members"] = len(self.members)
        return doc


@dataclass
class Usergroup:
    """A user group (``@handle``) and its members."""

    id: str
    handle: str
    name: str
    users: list[str]


@dataclass
class StoredFile:
    """A file announced by files.getUploadURLExternal; ``data`` once its bytes arrived."""

    id: str
    filename: str
    length: int
    title: str = ""
    alt_txt: str = ""
    snippet_type: str = ""
    data: bytes | None = None

    def api(self) -> dict[str, Any]:
        size = len(self.data) if self.data is not None else self.length
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": size,
            "mimetype": "text/plain" if _is_text(self.data) else "application/octet-stream",
        }

    def view(self) -> dict[str, Any]:
        doc = self.api()
        if self.data is not None and _is_text(self.data):
            doc["content"] = self.data.decode("utf-8")
        return doc


def _is_text(data: bytes | None) -> bool:
    if data is None:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class Revision:
    """One earlier version of an edited message."""

    text: str
    blocks: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    replaced_at: str
    replaced_by: str

    def view(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "replaced_at": self.replaced_at,
            "replaced_by": self.replaced_by,
        }


@dataclass
class Message:
    """A message in a channel (top-level or thread reply), with its edit history.

    ``via`` says how it got there: ``chat.postMessage``, ``response_url``,
    ``files.completeUploadExternal``.
    """

    ts: str
    channel: str
    user: str
    bot_id: str | None
    app_id: str | None
    text: str
    blocks: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    via: str
    files: list[StoredFile] = field(default_factory=list)
    thread_ts: str | None = None
    reply_broadcast: bool = False
    unknown_thread_ts: str | None = None
    edited: dict[str, str] | None = None
    history: list[Revision] = field(default_factory=list)
    replies: list[Message] = field(default_factory=list)
    deleted: bool = False

    def replace(self, content: MessageContent, by: str, at: str) -> None:
        """Apply an edit: keep the old version in the history; omitted parts are kept."""
        self.history.append(
            Revision(self.text, self.blocks, self.attachments, replaced_at=at, replaced_by=by)
        )
        if content.text is not None:
            self.text = content.text
        if content.blocks is not None:
            self.blocks = content.blocks
        if content.attachments is not None:
            self.attachments = content.attachments
        self.edited = {"user": by, "ts": at}

    def api(self) -> dict[str, Any]:
        """The message as conversations.replies or chat.postMessage's ``message`` show it."""
        doc: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user}
        if self.bot_id:
            doc["bot_id"] = self.bot_id
        if self.app_id:
            doc["app_id"] = self.app_id
        doc["text"] = self.text
        if self.blocks:
            doc["blocks"] = self.blocks
        if self.attachments:
            doc["attachments"] = self.attachments
        if self.files:
            doc["files"] = [f.api() for f in self.files]
            doc["upload"] = True
        if self.thread_ts:
            doc["thread_ts"] = self.thread_ts
        if self.replies:
            doc["thread_ts"] = self.ts
            doc["reply_count"] = len(self.replies)
            doc["reply_users"] = sorted({r.user for r in self.replies})
            doc["latest_reply"] = self.replies[-1].ts
        if self.reply_broadcast:
            doc["subtype"] = "thread_broadcast"
        if self.edited:
            doc["edited"] = dict(self.edited)
        return doc

    def view(self) -> dict[str, Any]:
        """The message for ``/_sandbox/messages``: what a person sees, edits, thread."""
        doc: dict[str, Any] = {
            "ts": self.ts,
            "user": self.user,
            "bot_id": self.bot_id,
            "via": self.via,
            "text": self.text,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "files": [f.view() for f in self.files],
            "edited": self.edited is not None,
            "edits": [r.view() for r in self.history],
        }
        if self.thread_ts:
            doc["thread_ts"] = self.thread_ts
            doc["reply_broadcast"] = self.reply_broadcast
        else:
            doc["replies"] = [r.view() for r in self.replies]
        if self.unknown_thread_ts:
            doc["unknown_thread_ts"] = self.unknown_thread_ts
        if self.deleted:
            doc["deleted"] = True
        return doc


@dataclass
class Ephemeral:
    """A message only ``user`` sees ("Only visible to you"); gone when replaced or deleted."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    via: str
    thread_ts: str | None = None
    history: list[Revision] = field(default_factory=list)
    deleted: bool = False

    def replace(self, content: MessageContent, by: str, at: str) -> None:
        """Replace the whole content (a response_url ``replace_original``)."""
        self.history.append(
            Revision(self.text, self.blocks, self.attachments, replaced_at=at, replaced_by=by)
        )
        self.text = content.text or ""
        self.blocks = content.blocks or []
        self.attachments = content.attachments or []

    def view(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ts": self.ts,
            "to": self.user,
            "via": self.via,
            "text": self.text,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "edits": [r.view() for r in self.history],
        }
        if self.thread_ts:
            doc["thread_ts"] = self.thread_ts
        if self.deleted:
            doc["deleted"] = True
        return doc
