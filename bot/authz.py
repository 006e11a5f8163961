"""Who may do what: Slack users and user groups mapped to a role per project.

Roles are ordered viewer < deployer < admin, each including the ones below it. A user's role in
a project is the highest role the project's entry or the ``"*"`` entry of
:class:`~bot.settings.RbacSettings` gives to the user's ID, to one of the user's groups, or to
``"*"`` (everyone). Each action needs a minimum role: reading needs viewer; sync and
toggle-selfheal need deployer; rollback and approving or rejecting a migration need admin.

With no RBAC configured at all, reading is open to everyone and every change is refused with a
message that says how to configure roles: a chat bot that deploys to production must not be
open by default. Pure: the caller resolves the user's groups (usergroups.users.list) and passes
them in, and checks again on every button click against the user who clicked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

from bot.parse import (
    Command,
    DiffCommand,
    GitopsCommand,
    RollbackCommand,
    SyncCommand,
    ToggleSelfHealCommand,
)
from bot.settings import EVERYONE, ProjectRoles, RbacSettings


class Role(IntEnum):
    """A role in a project; a higher role includes every right of the lower ones."""

    VIEWER = 1
    DEPLOYER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Action(StrEnum):
    """Something a user asks the bot to do."""

    READ = "read"
    SYNC = "sync"
    TOGGLE_SELFHEAL = "toggle-selfheal"
    ROLLBACK = "rollback"
    APPROVE = "approve"
    REJECT = "reject"

    @property
    def writes(self) -> bool:
        return self is not Action.READ


MINIMUM_ROLE: Final[Mapping[Action, Role]] = MappingProxyType(
    {
        Action.READ: Role.VIEWER,
        Action.SYNC: Role.DEPLOYER,
        Action.TOGGLE_SELFHEAL: Role.DEPLOYER,
        Action.ROLLBACK: Role.ADMIN,
        Action.APPROVE: Role.ADMIN,
        Action.REJECT: Role.ADMIN,
    }
)

_ROLE_FIELD: Final = {Role.VIEWER: "viewers", Role.DEPLOYER: "deployers", Role.ADMIN: "admins"}

NO_RBAC_HINT: Final = (
    "No roles are configured, so kajitori only answers read commands. To allow changes, add "
    'an rbac section to the Settings document, e.g. rbac: {projects: {"*": {deployers: '
    "[U0123ABCD], admins: [S0123ABCD]}}} (Slack user IDs U…/W…, user group IDs S…)."
)


@dataclass(frozen=True)
class Decision:
    """The answer to "may this user do this?": ``role`` is the user's role in the project
    (None when the user has none, or RBAC is not configured), ``required`` the role the
    action needs, ``reason`` a sentence for the user and the audit log."""

    allowed: bool
    role: Role | None
    required: Role
    reason: str


def _members_of(entry: ProjectRoles, role: Role) -> frozenset[str]:
    members: frozenset[str] = getattr(entry, _ROLE_FIELD[role])
    return members


def role_of(
    user_id: str, user_groups: Collection[str], project: str, rbac: RbacSettings
) -> Role | None:
    """The highest role ``user_id`` (a member of ``user_groups``) holds in ``project``."""
    identities = {user_id, EVERYONE, *user_groups}
    for role in sorted(Role, reverse=True):
        for entry in rbac.entries_for(project):
            if identities & _members_of(entry, role):
                return role
    return None


def authorize(
    user_id: str,
    user_groups: Collection[str],
    project: str,
    action: Action,
    rbac: RbacSettings,
) -> Decision:
    """Whether ``user_id`` may do ``action`` on an app of ``project``, and why."""
    required = MINIMUM_ROLE[action]
    verb = action.value
    if not rbac.configured:
        if action.writes:
            return Decision(False, None, required, f"{verb} needs a role. {NO_RBAC_HINT}")
        return Decision(True, None, required, "no roles are configured; reading is open")
    role = role_of(user_id, user_groups, project, rbac)
    where = f"project {project!r}"
    if role is None:
        return Decision(
            False,
            None,
            required,
            f"{verb} needs the {required.label} role in {where} and you have no role there; "
            f"ask an admin to add you to rbac.projects.{project}.{_ROLE_FIELD[required]}",
        )
    if role < required:
        return Decision(
            False,
            role,
            required,
            f"{verb} needs the {required.label} role in {where}; you are {role.label}",
        )
    return Decision(True, role, required, f"{role.label} in {where} may {verb}")


def action_of(command: Command) -> Action:
    """The action a command asks for."""
    if isinstance(command, SyncCommand):
        return Action.SYNC
    if isinstance(command, ToggleSelfHealCommand):
        return Action.TOGGLE_SELFHEAL
    if isinstance(command, RollbackCommand):
        return Action.ROLLBACK
    if isinstance(command, DiffCommand | GitopsCommand):
        return Action.READ
    raise TypeError(f"not a command: {command!r}")  # pragma: no cover - exhaustive above
