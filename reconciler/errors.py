"""The project's exception tree. Edges (Git, Kubernetes, Slack, GitHub) map their libraries'
errors to these, so callers handle one family and messages stay free of secrets."""

from __future__ import annotations

from collections.abc import Sequence


class KajitoriError(Exception):
    """Base of every error a user or operator can cause or act on."""


class ConfigError(KajitoriError):
    """Invalid configuration. ``problems`` holds one message per problem, each naming the file,
    the document, the app or project and the field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SourceError(KajitoriError):
    """A Git repository could not be fetched or a revision or path could not be read."""


class RenderError(KajitoriError):
    """Manifests could not be rendered; ``file`` and ``line`` locate the problem where known."""

    def __init__(self, message: str, file: str = "", line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = file + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)


class ClusterError(KajitoriError):
    """The Kubernetes API refused or failed a request. ``code`` is the HTTP status (0 when the
    server could not be reached) and ``reason`` the Status reason."""

    def __init__(self, message: str, code: int = 0, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(message)


class ComparisonError(KajitoriError):
    """Desired and live state could not be compared."""
