"""Authorization: roles per project from Slack user and group IDs."""

from __future__ import annotations

import pytest

from bot.authz import MINIMUM_ROLE, Action, Role, action_of, authorize, role_of
from bot.parse import (
    DiffCommand,
    GitopsCommand,
    RollbackCommand,
    SyncCommand,
    ToggleSelfHealCommand,
)
from bot.settings import BotSettings, RbacSettings, parse_bot_settings
from reconciler.settings import build_settings


def rbac_of(projects: dict[str, dict[str, list[str]]]) -> RbacSettings:
    settings: BotSettings = parse_bot_settings(build_settings({"rbac": {"projects": projects}}))
    return settings.rbac


RBAC = rbac_of(
    {
        "*": {"viewers": ["S0DEVS"]},
        "payments": {"deployers": ["U0BOB"], "admins": ["S0PLATFORM"]},
        "web": {"viewers": ["U0DAVE"], "deployers": ["S0DEVS"], "admins": ["U0ALICE"]},
    }
)


def test_roles_are_ordered_and_actions_need_their_minimum() -> None:
    assert Role.VIEWER < Role.DEPLOYER < Role.ADMIN
    assert MINIMUM_ROLE[Action.READ] is Role.VIEWER
    assert MINIMUM_ROLE[Action.SYNC] is MINIMUM_ROLE[Action.TOGGLE_SELFHEAL] is Role.DEPLOYER
    assert (
        MINIMUM_ROLE[Action.ROLLBACK]
        is MINIMUM_ROLE[Action.APPROVE]
        is MINIMUM_ROLE[Action.REJECT]
        is Role.ADMIN
    )


@pytest.mark.parametrize(
    ("user", "groups", "project", "role"),
    [
        ("U0BOB", set(), "payments", Role.DEPLOYER),
        ("U0BOB", {"S0DEVS"}, "payments", Role.DEPLOYER),
        ("U0CAROL", {"S0PLATFORM", "S0DEVS"}, "payments", Role.ADMIN),
        ("U0DAVE", {"S0DEVS"}, "payments", Role.VIEWER),  # only through "*"
        ("U0DAVE", set(), "web", Role.VIEWER),
        ("U0DAVE", {"S0DEVS"}, "web", Role.DEPLOYER),  # the higher of two roles
        ("U0ALICE", set(), "web", Role.ADMIN),
        ("U0ALICE", set(), "payments", None),
        ("U0EVE", set(), "default", None),
    ],
)
def test_role_of(user: str, groups: set[str], project: str, role: Role | None) -> None:
    assert role_of(user, groups, project, RBAC) == role


def test_allowed_decisions_say_which_role_allowed_them() -> None:
    decision = authorize("U0BOB", set(), "payments", Action.SYNC, RBAC)
    assert decision.allowed and decision.role is Role.DEPLOYER
    assert decision.required is Role.DEPLOYER
    assert decision.reason == "deployer in project 'payments' may sync"
    assert authorize("U0CAROL", {"S0PLATFORM"}, "payments", Action.APPROVE, RBAC).allowed
    assert authorize("U0DAVE", {"S0DEVS"}, "payments", Action.READ, RBAC).allowed


def test_too_low_a_role_is_refused_with_the_needed_role() -> None:
    decision = authorize("U0BOB", set(), "payments", Action.ROLLBACK, RBAC)
    assert not decision.allowed and decision.role is Role.DEPLOYER
    assert decision.required is Role.ADMIN
    assert decision.reason == (
        "rollback needs the admin role in project 'payments'; you are deployer"
    )
    viewer = authorize("U0DAVE", {"S0DEVS"}, "payments", Action.TOGGLE_SELFHEAL, RBAC)
    assert not viewer.allowed and viewer.role is Role.VIEWER


def test_no_role_is_refused_with_where_to_be_added() -> None:
    decision = authorize("U0EVE", set(), "payments", Action.READ, RBAC)
    assert not decision.allowed and decision.role is None
    assert decision.reason == (
        "read needs the viewer role in project 'payments' and you have no role there; ask an "
        "admin to add you to rbac.projects.payments.viewers"
    )
    approve = authorize("U0EVE", set(), "web", Action.REJECT, RBAC)
    assert not approve.allowed
    assert "rbac.projects.web.admins" in approve.reason


def test_everyone_entry() -> None:
    rbac = rbac_of({"*": {"viewers": ["*"], "deployers": ["U0BOB"]}})
    assert authorize("U0ANYONE", set(), "any", Action.READ, rbac).allowed
    assert not authorize("U0ANYONE", set(), "any", Action.SYNC, rbac).allowed
    assert authorize("U0BOB", set(), "any", Action.SYNC, rbac).allowed


def test_without_rbac_reads_are_open_and_writes_refused_with_how_to_configure() -> None:
    rbac = RbacSettings()
    read = authorize("U0ANYONE", set(), "default", Action.READ, rbac)
    assert read.allowed and read.role is None
    for action in (Action.SYNC, Action.TOGGLE_SELFHEAL, Action.ROLLBACK, Action.APPROVE):
        decision = authorize("U0ADMIN", {"S0PLATFORM"}, "default", action, rbac)
        assert not decision.allowed
        assert decision.reason.startswith(f"{action.value} needs a role. No roles are configured")
        assert "rbac section" in decision.reason and "deployers" in decision.reason


def test_each_command_maps_to_its_action() -> None:
    assert action_of(SyncCommand("a")) is Action.SYNC
    assert action_of(SyncCommand("a", dry_run=True)) is Action.SYNC
    assert action_of(ToggleSelfHealCommand("a")) is Action.TOGGLE_SELFHEAL
    assert action_of(RollbackCommand("a", 3)) is Action.ROLLBACK
    assert action_of(DiffCommand("a")) is Action.READ
    assert action_of(GitopsCommand("history", "a")) is Action.READ
