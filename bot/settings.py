"""The bot's typed settings: the ``slack`` and ``rbac`` sections of the Settings document.

``reconciler.settings`` keeps those sections as :class:`~reconciler.settings.RawSection`
mappings (with ``{env: NAME}`` values already resolved into Secrets); this module turns them
into frozen objects once, at start-up, so the rest of the bot never looks at raw YAML:

```yaml
slack:
  mode: socket                       # or http (Events API over the signing secret)
  botToken: {env: SLACK_BOT_TOKEN}   # xoxb-...
  appToken: {env: SLACK_APP_TOKEN}   # xapp-..., socket mode only
  signingSecret: {env: SLACK_SIGNING_SECRET}   # http mode only
  commands: {sync: /sync, diff: /diff, rollback: /rollback,
             toggleSelfHeal: /toggle-selfheal, gitops: /gitops}
  channels: {default: "#deploys", apps: {guestbook: "#guestbook"}, projects: {payments: C0PAY}}
  approvalTimeout: 1h
  apiUrl: https://slack.com/api/     # optional: another Web API base (a stand-in's)
rbac:
  projects:
    "*":      {viewers: [S0DEVS]}
    payments: {deployers: [U0BOB], admins: [S0PLATFORM]}
```

A missing ``slack`` section (or one without ``botToken`` and ``mode``) means Slack is not
connected; the other fields still apply. Tokens stay :class:`~reconciler.settings.Secret`.
Problems raise :class:`~reconciler.errors.ConfigError` naming each field; no message ever
quotes a token.

This module is the entry point and the one place the bot imports its settings from: the
objects live in ``bot.settings_types``, the section parsers in ``bot.settings_slack`` and
``bot.settings_rbac``, and all of them are re-exported here.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.settings_rbac import parse_rbac_settings
from bot.settings_slack import parse_slack_settings
from bot.settings_types import (
    ALL_PROJECTS,
    DEFAULT_APPROVAL_TIMEOUT,
    DEFAULT_COMMANDS,
    EVERYONE,
    GROUP_ID,
    HTTP_MODE,
    SOCKET_MODE,
    USER_ID,
    BotSettings,
    ChannelRoutes,
    CommandNames,
    ProjectRoles,
    RbacSettings,
    SlackSettings,
)
from reconciler.config_fields import Fields, Problems
from reconciler.errors import ConfigError
from reconciler.settings import Settings


def parse_bot_settings(
    settings: Settings,
    *,
    source: str = "<settings>",
    apps: Collection[str] | None = None,
    projects: Collection[str] | None = None,
) -> BotSettings:
    """The bot's settings from the raw ``slack`` and ``rbac`` sections of ``settings``.
    ``source`` (the settings file) starts every problem; ``apps`` and ``projects`` (the
    configured names, when known) catch routes and RBAC entries for names that do not exist.
    Raises ConfigError listing every problem."""
    problems = Problems(source)
    root = Fields({}, "", problems).redacted()
    slack = parse_slack_settings(
        root.child(dict(settings.slack), "slack"), apps=apps, projects=projects
    )
    rbac = parse_rbac_settings(root.child(dict(settings.rbac), "rbac"), projects=projects)
    if problems.messages:
        raise ConfigError(problems.messages)
    return BotSettings(slack=slack, rbac=rbac)


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
    "parse_bot_settings",
    "parse_rbac_settings",
    "parse_slack_settings",
]
