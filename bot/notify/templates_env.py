"""The Jinja2 environment notification templates run in: sandboxed, bounded, plain text.

Why a sandbox: templates come from settings files that operators edit and that people copy
from the internet; the sandbox keeps them away from Python internals (``__class__`` ...), and
the immutable variant stops a template from changing the ``app`` dict other templates read.
On top of Jinja's sandbox, ``*`` and ``**`` are bounded so ``'x' * 10**9`` fails instead of
eating the memory of the process that also runs the reconciler.

Choices (documented for template authors):

* ``autoescape`` is off: the output is Slack text and JSON-free data, not HTML. Escaping for
  Slack's mrkdwn is explicit, with the ``mrkdwn`` filter, on user-controlled text (commit
  messages, authors, operation and condition messages).
* Undefined values are lenient by default (``ChainableUndefined``): a missing field such as
  ``app.status.operationState.finishedAt`` on an app that never synced renders as an empty
  string and can be chained further, like Argo's maps where a missing key reads as nil. A
  notification with an empty field is better than none. ``strict=True`` (used when checking
  settings) makes any undefined value an error that names the template and field.
* ``a.b`` on a mapping reads the key ``b`` first (Jinja prefers the Python attribute), so an
  Argo field called ``items``, ``keys`` or ``values`` reads as data, not as a dict method.
* ``trim_blocks`` and ``lstrip_blocks`` are on, so a ``{% if %}`` on its own line in a
  multi-line ``message`` leaves no blank line.

Filters added: ``mrkdwn`` (escape ``&``, ``<``, ``>`` so text cannot become a link, a mention
or ``<!channel>``), ``short_sha`` (first 7 characters of a 40-hex SHA), ``repo_https`` (a
Git URL as its https web address), ``slack_date`` (an RFC 3339 time as a Slack date token
that shows in the reader's time zone, with the raw time as fallback).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from jinja2 import ChainableUndefined, StrictUndefined, Undefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_REPEAT_LENGTH: Final = 100_000
MAX_EXPONENT: Final = 64
_SHA: Final = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SCP_LIKE: Final = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")


def _text(value: Any) -> str:
    """``value`` as text; an undefined value is "" (or raises, when strict)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def mrkdwn_escape(value: Any) -> str:
    """Text made inert for Slack's mrkdwn: ``&``, ``<`` and ``>`` become entities, which is
    all Slack asks for; so ``<!channel>`` or ``<https://evil|click>`` show as typed."""
    text = _text(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def short_sha(value: Any) -> str:
    """The first 7 characters of a full Git SHA; anything else (a tag, a branch) as is."""
    text = _text(value)
    return text[:7] if _SHA.fullmatch(text) else text


def repo_https(value: Any) -> str:
    """A Git repository URL as the https address a browser opens: ``git@host:org/repo.git``
    and ``ssh://git@host/org/repo.git`` become ``https://host/org/repo``."""
    text = _text(value).strip()
    if text.startswith("ssh://"):
        rest = text.removeprefix("ssh://")
        host_part, _, path = rest.partition("/")
        host = host_part.rpartition("@")[2].partition(":")[0]
        text = f"https://{host}/{path}"
    else:
        match = _SCP_LIKE.match(text)
        if match and "://" not in text:
            text = f"https://{match.group(1)}/{match.group(2)}"
    if text.startswith("http://"):
        text = "https://" + text.removeprefix("http://")
    return text.removesuffix("/").removesuffix(".git")


def slack_date(value: Any, token: str = "{date_short_pretty} {time}") -> str:
    """``<!date^EPOCH^TOKEN|fallback>`` for an RFC 3339 time, which Slack shows in each
    reader's time zone; text that is not such a time is returned escaped, unchanged."""
    text = _text(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return mrkdwn_escape(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fallback = mrkdwn_escape(text)
    return f"<!date^{int(moment.timestamp())}^{mrkdwn_escape(token)}|{fallback}>"


FILTERS: Final[Mapping[str, Callable[..., str]]] = {
    "mrkdwn": mrkdwn_escape,
    "short_sha": short_sha,
    "repo_https": repo_https,
    "slack_date": slack_date,
}


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


class NotificationEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed, immutable Jinja2 environment of notification templates (see the
    module docstring for its choices)."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, strict: bool) -> None:
        undefined: type[Undefined] = StrictUndefined if strict else ChainableUndefined
        super().__init__(
            autoescape=False,
            undefined=undefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.strict = strict
        self.filters.update(FILTERS)

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        """``*`` and ``**`` with bounds: a repeated string or list stays under
        ``MAX_REPEAT_LENGTH`` items and an exponent under ``MAX_EXPONENT``."""
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is above the limit of {MAX_EXPONENT}")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            size = _length(seq)
            if size is not None and isinstance(times, int) and size * times > MAX_REPEAT_LENGTH:
                raise SecurityError(
                    f"repeating a value {times} times exceeds {MAX_REPEAT_LENGTH} items"
                )
        return operator.mul(left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``a.b`` on a mapping that has the key ``b`` reads the key (Argo's data first)."""
        if isinstance(obj, Mapping):
            try:
                if attribute in obj:
                    return obj[attribute]
            except TypeError:
                pass
        return super().getattr(obj, attribute)


@functools.cache
def environment(strict: bool = False) -> NotificationEnvironment:
    """The shared environment (one lenient, one strict). Jinja environments are safe to
    share between threads once configured, and sharing keeps its compile cache."""
    return NotificationEnvironment(strict=strict)
