"""bot.groups.UserGroups against the Slack sandbox: members cached for the TTL, a failed
lookup never grants anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.groups import FAILURE_TTL, UserGroups, rbac_groups
from sandbox.slack import SlackSandbox
from tests.integration.bot_harness import RBAC


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sandbox:
        yield sandbox


def test_rbac_groups_are_the_group_ids_holding_roles() -> None:
    assert rbac_groups(RBAC) == frozenset({"S0PLATFORM"})


def test_members_are_read_once_per_ttl(slack: SlackSandbox) -> None:
    now = [100.0]
    client = WebClient(token=slack.bot_token, base_url=slack.url)
    groups = UserGroups(client, ["S0PLATFORM", "S0DEVS"], ttl=60, clock=lambda: now[0])
    assert groups.groups_of("U0CAROL") == {"S0PLATFORM", "S0DEVS"}
    assert groups.groups_of("U0ALICE") == {"S0PLATFORM"}
    assert groups.groups_of("U0NOBODY") == frozenset()
    assert len(slack.calls("usergroups.users.list")) == 2
    slack.add_usergroup("S0PLATFORM", "platform", ["U0DAVE"])  # membership changes
    now[0] += 30
    assert groups.groups_of("U0DAVE") == {"S0DEVS"}  # still cached
    now[0] += 31
    assert groups.groups_of("U0DAVE") == {"S0PLATFORM", "S0DEVS"}
    assert len(slack.calls("usergroups.users.list")) == 4


def test_a_failed_lookup_counts_as_no_membership_for_a_short_while(slack: SlackSandbox) -> None:
    now = [0.0]
    client = WebClient(token=slack.bot_token, base_url=slack.url)
    groups = UserGroups(client, ["S0PLATFORM", "S0GONE"], ttl=60, clock=lambda: now[0])
    slack.fail_next("usergroups.users.list", times=2, status=503)
    assert groups.groups_of("U0ALICE") == frozenset()
    now[0] += 5
    assert groups.groups_of("U0ALICE") == frozenset()  # failures are remembered briefly
    now[0] += FAILURE_TTL
    assert groups.groups_of("U0ALICE") == {"S0PLATFORM"}  # S0GONE: no_such_subteam
    assert [c["error"] for c in slack.calls("usergroups.users.list")] == [
        "service_unavailable",
        "service_unavailable",
        "no_such_subteam",
        None,
    ]
