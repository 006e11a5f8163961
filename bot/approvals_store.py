"""Where the bot remembers the approval messages it posted, so a restarted process can still
update them: one record per approval ID with the channel, the message ts and everything the
message showed (to rebuild it in its decided form without asking anyone again).

Records live in a key-value table: the controller's runtime store (``kv_get`` / ``kv_put`` /
``kv_items`` of ``reconciler.state_runtime.RuntimeStore``, the same SQLite file as the
operations) when the bot runs inside ``kajitori run``, else :class:`MemoryKeyValue`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from bot.views import ApprovalView, DiffEntry, HookView
from reconciler.event_types import CommitSummary
from reconciler.model import ResourceKey

KV_NAMESPACE: Final = "slack-approval-messages"


class KeyValue(Protocol):
    """The part of the controller's runtime store the bot uses (JSON values)."""

    def kv_get(self, namespace: str, key: str) -> Any | None: ...

    def kv_put(self, namespace: str, key: str, value: Any) -> None: ...

    def kv_items(self, namespace: str) -> dict[str, Any]: ...


class MemoryKeyValue:
    """A key-value table in memory (tests, a bot without the controller's store)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def kv_get(self, namespace: str, key: str) -> Any | None:
        with self._lock:
            return self._data.get((namespace, key))

    def kv_put(self, namespace: str, key: str, value: Any) -> None:
        with self._lock:
            self._data[(namespace, key)] = value

    def kv_items(self, namespace: str) -> dict[str, Any]:
        with self._lock:
            return {k: v for (ns, k), v in self._data.items() if ns == namespace}


@dataclass(frozen=True)
class ApprovalMessage:
    """An approval request the bot posted: where, and what it showed. ``closed`` once the
    message shows the decision (or why there was none)."""

    view: ApprovalView
    channel: str
    ts: str
    closed: bool = False

    def to_dict(self) -> dict[str, Any]:
        view = self.view
        hook = view.hook
        commit = view.commit
        return {
            "channel": self.channel,
            "ts": self.ts,
            "closed": self.closed,
            "approvalId": view.approval_id,
            "app": view.app,
            "project": view.project,
            "revision": view.revision,
            "requestedBy": view.requested_by,
            "expiresAt": view.expires_at.isoformat() if view.expires_at else "",
            "commitUrl": view.commit_url,
            "commit": None
            if commit is None
            else {
                "sha": commit.sha,
                "author": commit.author,
                "message": commit.message,
                "date": commit.date,
            },
            "hook": {
                "name": hook.name,
                "kind": hook.kind,
                "namespace": hook.namespace,
                "image": hook.image,
                "command": list(hook.command),
                "args": list(hook.args),
            },
            "changes": [
                [e.key.group, e.key.kind, e.key.namespace, e.key.name, e.change]
                for e in view.changes
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApprovalMessage:
        hook = data.get("hook") or {}
        commit = data.get("commit")
        expires = str(data.get("expiresAt") or "")
        view = ApprovalView(
            approval_id=str(data["approvalId"]),
            app=str(data["app"]),
            project=str(data.get("project") or "default"),
            revision=str(data.get("revision") or ""),
            requested_by=str(data.get("requestedBy") or ""),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            commit_url=str(data.get("commitUrl") or ""),
            commit=CommitSummary(**commit) if isinstance(commit, Mapping) else None,
            hook=HookView(
                name=str(hook.get("name", "")),
                kind=str(hook.get("kind", "Job")),
                namespace=str(hook.get("namespace", "")),
                image=str(hook.get("image", "")),
                command=tuple(str(x) for x in hook.get("command") or ()),
                args=tuple(str(x) for x in hook.get("args") or ()),
            ),
            changes=tuple(
                DiffEntry(ResourceKey(*(str(p) for p in item[:4])), "", item[4])
                for item in data.get("changes") or ()
            ),
        )
        return cls(view, str(data["channel"]), str(data["ts"]), bool(data.get("closed")))


class ApprovalMessages:
    """The posted approval messages by approval ID (module docstring)."""

    def __init__(self, table: KeyValue | None = None) -> None:
        self.table: KeyValue = table if table is not None else MemoryKeyValue()
        self._lock = threading.Lock()

    def get(self, approval_id: str) -> ApprovalMessage | None:
        raw = self.table.kv_get(KV_NAMESPACE, approval_id)
        return ApprovalMessage.from_dict(raw) if isinstance(raw, Mapping) else None

    def put(self, message: ApprovalMessage) -> None:
        self.table.kv_put(KV_NAMESPACE, message.view.approval_id, message.to_dict())

    def open_of(self, app: str) -> list[ApprovalMessage]:
        """The app's messages that still offer their buttons."""
        found = [
            ApprovalMessage.from_dict(raw)
            for raw in self.table.kv_items(KV_NAMESPACE).values()
            if isinstance(raw, Mapping) and raw.get("app") == app and not raw.get("closed")
        ]
        return found

    def close(self, approval_id: str) -> bool:
        """Mark the message closed; False when it was closed already (or is unknown), so
        exactly one caller updates it."""
        with self._lock:
            found = self.get(approval_id)
            if found is None or found.closed:
                return False
            self.put(ApprovalMessage(found.view, found.channel, found.ts, closed=True))
            return True
