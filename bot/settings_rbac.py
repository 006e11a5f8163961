"""Parsing the ``rbac`` section of the Settings document into ``RbacSettings``.

Each project entry (or ``"*"`` for every project) names who holds the viewer, deployer and
admin roles, as Slack user IDs, user group IDs or ``"*"``. Names are checked against the
configured projects when known: a misspelt project would otherwise deny everyone silently.
"""

from __future__ import annotations

from collections.abc import Collection
from types import MappingProxyType

from bot.settings_types import ALL_PROJECTS, EVERYONE, GROUP_ID, USER_ID, ProjectRoles, RbacSettings
from reconciler.config_fields import Fields, suggestion, type_name

_ROLE_FIELDS = ("viewers", "deployers", "admins")


def _is_member_id(member: str) -> bool:
    return member == EVERYONE or bool(USER_ID.match(member) or GROUP_ID.match(member))


def _members(fields: Fields, key: str) -> frozenset[str]:
    value = fields.data.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        fields.problem(key, f"expected a list of IDs, got {type_name(value)}")
        return frozenset()
    members: set[str] = set()
    for index, member in enumerate(value):
        where = f"{fields.path}.{key}[{index}]"
        if not isinstance(member, str):
            fields.problems.add(where, f"expected a string, got {type_name(member)}")
        elif _is_member_id(member.strip()):
            members.add(member.strip())
        else:
            fields.problems.add(
                where,
                f"{member!r} is not a Slack user ID (U…/W…), a user group ID (S…) or '*'; "
                "find IDs in a profile's or group's 'Copy member ID' menu",
            )
    return frozenset(members)


def parse_rbac_settings(fields: Fields, *, projects: Collection[str] | None = None) -> RbacSettings:
    """The ``rbac`` section. ``projects``, when given, are the configured project names: an
    entry for another name (likely a typo that would silently deny everyone) is a problem."""
    fields.check_keys(("projects",))
    section = fields.mapping("projects")
    if section is None:
        return RbacSettings()
    entries: dict[str, ProjectRoles] = {}
    for name, value in section.data.items():
        name = str(name)
        if projects is not None and name != ALL_PROJECTS and name not in projects:
            hint = suggestion(name, projects)
            section.problem(name, f"no project named {name!r}{hint} (use '*' for every project)")
            continue
        if not isinstance(value, dict):
            section.problem(name, f"expected a mapping of {', '.join(_ROLE_FIELDS)}")
            continue
        roles = section.child(value, f"{section.path}.{name}")
        roles.check_keys(_ROLE_FIELDS)
        entries[name] = ProjectRoles(
            viewers=_members(roles, "viewers"),
            deployers=_members(roles, "deployers"),
            admins=_members(roles, "admins"),
        )
    return RbacSettings(projects=MappingProxyType(entries))


__all__ = ["parse_rbac_settings"]
