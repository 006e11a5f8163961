"""The bot's settings as typed, frozen objects: what the ``slack`` and ``rbac`` sections of the
Settings document become once parsed (``bot.settings.parse_bot_settings``).

What the bot reads (here) is kept apart from how the YAML is checked (``bot.settings_slack``,
``bot.settings_rbac``): these objects are all that authorization, command parsing and the
Block Kit builders look at. The Slack ID patterns live here too: they describe the values the
role lists hold, and ``bot.mrkdwn`` and ``bot.groups`` reuse them to recognise IDs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from reconciler.settings import Secret

SOCKET_MODE: Final = "socket"
HTTP_MODE: Final = "http"
ALL_PROJECTS: Final = "*"
EVERYONE: Final = "*"  # as a role member: every user of the workspace
DEFAULT_APPROVAL_TIMEOUT: Final = 3600.0

# Slack user IDs (U… or, in Enterprise Grid, W…) and user group IDs (S…).
USER_ID: Final = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID: Final = re.compile(r"^S[A-Z0-9]{2,}$")


@dataclass(frozen=True)
class CommandNames:
    """The slash command names the bot answers to (configurable to avoid clashes with other
    apps in the workspace)."""

    sync: str = "/sync"
    diff: str = "/diff"
    rollback: str = "/rollback"
    toggle_selfheal: str = "/toggle-selfheal"
    gitops: str = "/gitops"

    def all(self) -> tuple[str, ...]:
        return (self.sync, self.diff, self.rollback, self.toggle_selfheal, self.gitops)


DEFAULT_COMMANDS: Final = CommandNames()


def _no_routes() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ChannelRoutes:
    """Where messages about an app go: the app's own channel, else its project's channel,
    else the channel a command came from, else ``default`` (for automated events, which come
    from no channel)."""

    default: str = ""
    apps: Mapping[str, str] = field(default_factory=_no_routes)
    projects: Mapping[str, str] = field(default_factory=_no_routes)

    def channel_for(self, app: str, project: str, origin: str = "") -> str:
        """The channel for messages about ``app`` (in ``project``) caused from the channel
        ``origin`` ("" for automated events); "" when nothing is configured."""
        return self.apps.get(app) or self.projects.get(project) or origin or self.default


@dataclass(frozen=True, repr=False)
class SlackSettings:
    """How the bot connects to Slack and what it answers to. ``approval_timeout`` is seconds."""

    mode: Literal["socket", "http"] = SOCKET_MODE
    bot_token: Secret | None = None
    app_token: Secret | None = None
    signing_secret: Secret | None = None
    commands: CommandNames = field(default_factory=CommandNames)
    channels: ChannelRoutes = field(default_factory=ChannelRoutes)
    approval_timeout: float = DEFAULT_APPROVAL_TIMEOUT
    api_url: str = ""  # the Web API base URL ending in "/"; "" means Slack's own

    @property
    def connected(self) -> bool:
        """Whether Slack is configured at all (a bot token is set)."""
        return self.bot_token is not None

    def __repr__(self) -> str:
        return (
            f"SlackSettings(mode={self.mode!r}, connected={self.connected}, "
            f"commands={self.commands!r}, channels={self.channels!r}, "
            f"approval_timeout={self.approval_timeout!r}, api_url={self.api_url!r})"
        )


@dataclass(frozen=True)
class ProjectRoles:
    """Who holds each role in one project: Slack user IDs (U…/W…), user group IDs (S…) and
    ``"*"`` for everyone in the workspace."""

    viewers: frozenset[str] = frozenset()
    deployers: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RbacSettings:
    """Roles per project; the ``"*"`` entry applies to every project. Empty means RBAC is not
    configured, and then only read commands are allowed."""

    projects: Mapping[str, ProjectRoles] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def configured(self) -> bool:
        return bool(self.projects)

    def entries_for(self, project: str) -> tuple[ProjectRoles, ...]:
        """The entries that apply to ``project``: its own and the ``"*"`` one."""
        found = (self.projects.get(project), self.projects.get(ALL_PROJECTS))
        return tuple(entry for entry in found if entry is not None)


@dataclass(frozen=True)
class BotSettings:
    """Everything the bot reads from the Settings document."""

    slack: SlackSettings = field(default_factory=SlackSettings)
    rbac: RbacSettings = field(default_factory=RbacSettings)


__all__ = [
    "ALL_PROJECTS",
    "DEFAULT_APPROVAL_TIMEOUT",
    "DEFAULT_COMMANDS",
    "EVERYONE",
    "GROUP_ID",
    "HTTP_MODE",
    "SOCKET_MODE",
    "USER_ID",
    "BotSettings",
    "ChannelRoutes",
    "CommandNames",
    "ProjectRoles",
    "RbacSettings",
    "SlackSettings",
]
