"""The watch verb: a chunked stream of ``{"type": …, "object": …}`` lines.

Without a resourceVersion (or with "0") the watch starts with an ADDED event for every
matching object, then follows changes. With a resourceVersion it replays the changes after it
from the history; when the history no longer reaches back that far the stream carries one
ERROR event with a 410 Gone Status, as kube-apiserver's does. ``timeoutSeconds`` ends the
stream; ``allowWatchBookmarks`` adds BOOKMARK events while idle. Empty chunks are heartbeats
that let the server notice a client that went away.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sandbox.kube.errors import bad_request, status_body
from sandbox.kube.httpmsg import Request, Response
from sandbox.kube.selectors import parse_field_selector, parse_label_selector
from sandbox.kube.state import dumps
from sandbox.kube.table import table
from sandbox.kube.watch import Predicate, WatchFilter

if TYPE_CHECKING:
    from sandbox.kube.api import Target
    from sandbox.kube.store import Store

DEFAULT_TIMEOUT = 1800.0
HEARTBEAT = 1.0
BOOKMARK_EVERY = 5.0


def _line(event_type: str, raw: bytes) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n"


def _both(first: Predicate, second: Predicate) -> Predicate:
    return lambda obj: first(obj) and second(obj)


def watch_response(store: Store, target: Target, request: Request) -> Response:
    """Start a watch (parameters are validated before the stream starts)."""
    labels = parse_label_selector(request.query.get("labelSelector"))
    fields = parse_field_selector(request.query.get("fieldSelector"))
    predicate = _both(labels, fields) if labels and fields else labels or fields
    rtype = target.rtype
    flt = WatchFilter(
        rtype.group, rtype.kind, target.namespace or None if rtype.namespaced else None, predicate
    )
    rv_text = request.query.get("resourceVersion", "")
    try:
        start = int(rv_text) if rv_text not in ("", "0") else None
    except ValueError:
        raise bad_request(f"invalid resourceVersion {rv_text!r}") from None
    try:
        timeout = float(request.query.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError:
        raise bad_request("timeoutSeconds must be a number") from None
    bookmarks = request.flag("allowWatchBookmarks")
    as_table = "as=Table" in request.header("accept")
    include = request.query.get("includeObject", "Metadata")
    api_version = rtype.api_version(target.version)
    same_version = target.version == rtype.version

    def encode(obj: dict[str, Any], raw: bytes) -> bytes:
        if as_table:
            return dumps(
                table(
                    rtype, [_at_version(obj)], obj["metadata"].get("resourceVersion", ""), include
                )
            )
        return raw if same_version else dumps(_at_version(obj))

    def _at_version(obj: dict[str, Any]) -> dict[str, Any]:
        return obj if same_version else dict(obj, apiVersion=api_version)

    def stream() -> Iterator[bytes]:
        deadline = time.monotonic() + timeout
        history = store.history
        if start is None:
            entries, pos = store.select(
                rtype,
                flt.namespace,
                request.query.get("labelSelector"),
                request.query.get("fieldSelector"),
            )
            for entry in entries:
                yield _line("ADDED", encode(entry.obj, entry.raw))
        else:
            pos = start
        last_sent = time.monotonic()
        while not history.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            events = history.after(pos, min(remaining, HEARTBEAT))
            if events is None:
                gone = status_body(
                    410, "Expired", f"too old resource version: {pos} ({history.floor})"
                )
                yield _line("ERROR", dumps(gone))
                return
            sent = False
            for event in events:
                pos = event.rv
                kind = flt.translate(event)
                if kind is not None:
                    sent = True
                    yield _line(kind, encode(event.obj, event.raw))
            now = time.monotonic()
            if sent:
                last_sent = now
            elif bookmarks and now - last_sent >= BOOKMARK_EVERY:
                last_sent = now
                mark = {
                    "kind": rtype.kind,
                    "apiVersion": api_version,
                    "metadata": {"resourceVersion": str(pos)},
                }
                yield _line("BOOKMARK", dumps(mark))
            else:
                yield b""

    return Response(200, stream=stream())
