"""Approvals in Slack (issue 8) through the real bot: the real Controller on the Kubernetes
emulator with a gated migration hook, the bot's approval messenger on its event bus, the app
served over HTTP and the Slack sandbox clicking the buttons."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import SLACK_EVENTS_PATH, create_app, runtime_of, shutdown, wsgi_app
from bot.approvals import ApprovalMessenger
from bot.approvals_store import ApprovalMessages
from bot.blocks_approval import APPROVE_ACTION, REJECT_ACTION
from reconciler.controller import Controller
from reconciler.http import HttpApi, HttpServer
from sandbox.slack import SlackSandbox
from tests.integration.bot_harness import SECRET, bot_settings, rendered
from tests.integration.controller_helpers import (
    Harness,
    Remote,
    app_yaml,
    config_of,
    configmap,
    created,
    hook_job,
)

CHANNEL = "C0DEPLOYS"
APP = "db"


class ShiftedHarness(Harness):
    """A harness whose controller's clock can be moved forward (for the approval timeout)."""

    offset = 0.0

    def _build(self) -> Controller:
        controller = super()._build()
        clock: Callable[[], float] = lambda: time.time() + self.offset  # noqa: E731
        controller._clock = clock
        controller._runner._clock = clock
        controller._starter.clock = clock
        return controller


class Bot:
    """The bot on the harness's controller, as ``bot.extension`` wires it: messages kept in
    the controller's runtime store, the messenger subscribed to its event bus."""

    def __init__(self, slack: SlackSandbox, harness: Harness) -> None:
        controller = harness.controller
        messages = ApprovalMessages(controller.runtime)
        self.app = create_app(
            bot_settings(app_channels={APP: CHANNEL}),
            controller,
            api_url=slack.url,
            approvals=messages,
        )
        messenger = ApprovalMessenger(runtime_of(self.app), messages)
        harness.events.subscribe(messenger.handle, "slack-approvals", types=messenger.types)
        api = HttpApi()
        api.mount(SLACK_EVENTS_PATH, wsgi_app(self.app), strip_prefix=False)
        self.server = HttpServer(api, host="127.0.0.1", port=0, threads=4)
        self.server.start()
        self.url = self.server.url + SLACK_EVENTS_PATH

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.stop()
        shutdown(self.app)


def gated(name: str, image: str = "migrate:1") -> dict[str, Any]:
    job = hook_job(name, "PreSync", "/bin/migrate", "--to", "latest")
    job["metadata"]["annotations"]["kajitori.dev/approval"] = "required"
    job["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return job


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "repo")


@pytest.fixture
def stack(
    kubeconfig: Path, tmp_path: Path, remote: Remote, slack: SlackSandbox
) -> Iterator[tuple[ShiftedHarness, list[Bot]]]:
    remote.commit({f"{APP}/app.yaml": [gated("migrate"), configmap("settings")]}, "add orders")
    app = app_yaml(APP, remote, namespace=APP, automated={})
    harness = ShiftedHarness(kubeconfig, tmp_path, config_of([app], tmp_path / "state.db"))
    bots = [Bot(slack, harness)]
    harness.start()
    try:
        yield harness, bots
    finally:
        for bot in bots:
            bot.close()
        harness.close()


def messages(slack: SlackSandbox) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = slack.messages(CHANNEL)["messages"]
    return found


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def request_shown(slack: SlackSandbox, count: int = 1) -> dict[str, Any]:
    slack.wait_until(lambda: len(messages(slack)) >= count, timeout=15, what="approval message")
    return messages(slack)[count - 1]


def click(
    slack: SlackSandbox, bot: Bot, ts: str, action: str, user: str, *, answered: bool = True
) -> list[str]:
    """Click; what the clicking user was told privately (waited for when ``answered``)."""
    reply = slack.click_button(bot.url, CHANNEL, ts, action, user_id=user)
    assert reply.status == 200, reply.text
    if answered:
        slack.wait_until(lambda: bool(slack.responses(reply.response_url)), what="an answer")
    return [rendered(r["body"]) for r in slack.responses(reply.response_url)]


def stale_click(
    slack: SlackSandbox, bot: Bot, ts: str, approval_id: str, action: str, user: str
) -> list[str]:
    """A click on the buttons as they were before the message was updated (a slow client, a
    second approver who had the message open): what the user was told."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": ts},
        "actions": [{"action_id": action, "value": approval_id, "type": "button"}],
    }
    reply = slack.send_block_action(bot.url, payload)
    assert reply.status == 200, reply.text
    slack.wait_until(lambda: bool(slack.responses(reply.response_url)), what="an answer")
    return [rendered(r["body"]) for r in slack.responses(reply.response_url)]


def approval_id(harness: Harness) -> str:
    return str(harness.status(APP)["status"]["operationState"]["approval"]["id"])


def wait_text(slack: SlackSandbox, index: int, needle: str) -> str:
    slack.wait_until(
        lambda: needle in rendered(messages(slack)[index]), timeout=15, what=repr(needle)
    )
    return rendered(messages(slack)[index])


def test_the_request_shows_what_will_run_and_an_approval_deploys(
    stack: tuple[ShiftedHarness, list[Bot]], slack: SlackSandbox, kube: Any
) -> None:
    harness, bots = stack
    shown = request_shown(slack)
    text = rendered(shown)
    assert "waits for approval" in text and "`migrate`" in text
    assert "migrate:1" in text and "/bin/migrate --to latest" in text
    assert "add orders" in text and "Ada Author" in text and "1 new" in text
    assert buttons(shown) == [APPROVE_ACTION, REJECT_ACTION]

    denied = click(slack, bots[0], shown["ts"], APPROVE_ACTION, "U0BOB")  # a deployer
    assert denied and "Not allowed" in denied[0] and "admin" in denied[0]
    assert buttons(messages(slack)[0]) == [APPROVE_ACTION, REJECT_ACTION]
    assert harness.status(APP)["status"]["operationState"]["approval"]["state"] == "Pending"
    audit = [(a.actor, a.action, a.allowed) for a in harness.controller.runtime.audit(APP)]
    assert ("U0BOB", "approve", False) in audit

    click(slack, bots[0], shown["ts"], APPROVE_ACTION, "U0ALICE", answered=False)
    text = wait_text(slack, 0, "Approved")
    assert "Approved* by <@U0ALICE>" in text
    assert buttons(messages(slack)[0]) == []
    harness.wait_phase(APP, "Succeeded")
    assert len(created(kube, "Job", "migrate")) == 1

    late = stale_click(slack, bots[0], shown["ts"], approval_id(harness), REJECT_ACTION, "U0CAROL")
    assert late and "already decided by <@U0ALICE>" in late[0]
    decisions = [a for a in harness.controller.runtime.audit(APP) if a.allowed]
    assert [(a.actor, a.action) for a in decisions if a.action in ("approve", "reject")] == [
        ("U0ALICE", "approve")
    ]
    assert len(messages(slack)) == 1  # one message: no second one from the notifier


def test_two_quick_clicks_make_one_decision(
    stack: tuple[ShiftedHarness, list[Bot]], slack: SlackSandbox
) -> None:
    harness, bots = stack
    ts = request_shown(slack)["ts"]
    for user in ("U0ALICE", "U0CAROL"):
        reply = slack.click_button(bots[0].url, CHANNEL, ts, REJECT_ACTION, user_id=user)
        assert reply.status == 200
    operation = harness.wait_phase(APP, "Failed")
    assert operation["message"] == "rejected by U0ALICE" or (
        operation["message"] == "rejected by U0CAROL"
    )
    decider = operation["message"].removeprefix("rejected by ")
    text = wait_text(slack, 0, "Rejected")
    assert f"Rejected* by <@{decider}>" in text
    rejects = [a for a in harness.controller.runtime.audit(APP) if a.action == "reject"]
    assert [a.actor for a in rejects] == [decider]


def test_a_rejection_fails_the_sync_and_creates_nothing(
    stack: tuple[ShiftedHarness, list[Bot]], slack: SlackSandbox, kube: Any
) -> None:
    harness, bots = stack
    ts = request_shown(slack)["ts"]
    click(slack, bots[0], ts, REJECT_ACTION, "U0CAROL", answered=False)
    operation = harness.wait_phase(APP, "Failed")
    assert operation["message"] == "rejected by U0CAROL"
    assert "Rejected* by <@U0CAROL>" in wait_text(slack, 0, "Rejected")
    assert created(kube, "Job", "migrate") == [] and created(kube, "ConfigMap") == []


def test_a_timeout_shows_in_the_message(
    stack: tuple[ShiftedHarness, list[Bot]], slack: SlackSandbox
) -> None:
    harness, bots = stack
    ts = request_shown(slack)["ts"]
    harness.offset = 3601.0
    operation = harness.wait_phase(APP, "Failed")
    assert operation["message"] == "approval timed out"
    text = wait_text(slack, 0, "Expired")
    assert "the hook did not run" in text and buttons(messages(slack)[0]) == []
    late = stale_click(slack, bots[0], ts, approval_id(harness), APPROVE_ACTION, "U0ALICE")
    assert late and "Nothing was decided" in late[0]


def test_a_restart_while_waiting_loses_nothing(
    stack: tuple[ShiftedHarness, list[Bot]], slack: SlackSandbox, kube: Any
) -> None:
    harness, bots = stack
    ts = request_shown(slack)["ts"]
    bots[0].close()
    harness.stop()
    harness.controller = harness._build()
    bots.append(Bot(slack, harness))  # a new process on the same state file
    harness.start()
    time.sleep(0.5)  # the resumed operation announces its approval again
    assert len(messages(slack)) == 1
    click(slack, bots[-1], ts, APPROVE_ACTION, "U0ALICE", answered=False)
    harness.wait_phase(APP, "Succeeded")
    assert "Approved* by <@U0ALICE>" in wait_text(slack, 0, "Approved")
    assert len(created(kube, "Job", "migrate")) == 1


def test_a_new_commit_supersedes_the_waiting_sync(
    stack: tuple[ShiftedHarness, list[Bot]], slack: SlackSandbox, remote: Remote
) -> None:
    harness, _ = stack
    request_shown(slack)
    newer = remote.commit(
        {f"{APP}/app.yaml": [gated("migrate", "migrate:2"), configmap("settings")]}, "orders v2"
    )
    harness.controller.refresh(APP)
    text = wait_text(slack, 0, "superseded by a newer sync")
    assert "Closed" in text and buttons(messages(slack)[0]) == []
    second = request_shown(slack, 2)
    assert newer[:7] in rendered(second) and "migrate:2" in rendered(second)
    assert buttons(second) == [APPROVE_ACTION, REJECT_ACTION]
