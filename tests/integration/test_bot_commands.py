"""/diff, /toggle-selfheal and /gitops through the real bot, and what no answer may contain:
a Secret's value or a stack trace."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.compare_types import Comparison, Condition, ResourceStatus
from reconciler.diff import MASK, diff
from reconciler.model import ResourceKey
from sandbox.slack import SlackSandbox
from tests.integration.bot_fakes import (
    REV_HEAD,
    REV_OLD,
    FakeController,
    audit_of,
    history_of,
    make_app,
)
from tests.integration.bot_harness import (
    SECRET,
    BotUnderTest,
    rendered,
)

APPS = [make_app("guestbook"), make_app("payments", "payments")]
PASSWORD = "hunter2-correct-horse"


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(signing_secret=SECRET) as sandbox:
        yield sandbox


@pytest.fixture
def controller() -> FakeController:
    return FakeController(APPS)


@pytest.fixture
def bot(slack: SlackSandbox, controller: FakeController) -> Iterator[BotUnderTest]:
    with BotUnderTest(slack, controller) as running:
        yield running


def secret(password: str) -> dict[str, Any]:
    encoded = base64.b64encode(password.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "demo"},
        "type": "Opaque",
        "data": {"password": encoded, "user": base64.b64encode(b"app").decode()},
    }


def changed(desired: dict[str, Any], live: dict[str, Any] | None) -> ResourceStatus:
    """A ResourceStatus as the comparison builds it: masked diff, real objects alongside."""
    result = diff(desired, live)
    return ResourceStatus(
        ResourceKey.of(desired), "OutOfSync", None, desired, live, diff=result.text
    )


def configmap(name: str, lines: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "demo"},
        "data": {f"key{i}": f"value {i} " + "x" * 40 for i in range(lines)},
    }


def everything_slack_saw(slack: SlackSandbox) -> str:
    """Every Web API call's arguments, every response_url post and uploaded file."""
    files = [
        f.get("content", "")
        for m in slack.messages()["channels"].values()
        for msg in m["messages"]
        for reply in [msg, *msg.get("replies", [])]
        for f in reply.get("files", [])
    ]
    return json.dumps([slack.calls(), slack.responses(), files])


def test_diff_of_a_changed_secret_never_contains_its_value(
    bot: BotUnderTest, controller: FakeController, slack: SlackSandbox
) -> None:
    controller.comparisons["guestbook"] = Comparison(
        revision=REV_HEAD, resources=[changed(secret(PASSWORD), secret("old-" + PASSWORD))]
    )
    bot.command("/diff", "guestbook", user_id="U0DAVE")
    bot.wait_messages("C0DEPLOYS", 1)
    text = rendered(bot.messages()[0])
    assert "Secret" in text and "db" in text and MASK in text and "password" in text
    seen = everything_slack_saw(slack)
    for value in (PASSWORD, "old-" + PASSWORD):
        assert value not in seen
        assert base64.b64encode(value.encode()).decode() not in seen


def test_a_long_diff_is_uploaded_as_a_file_in_the_thread(
    bot: BotUnderTest, controller: FakeController, slack: SlackSandbox
) -> None:
    resources = [changed(configmap(f"big{i}", 60), configmap(f"big{i}", 1)) for i in range(4)]
    resources.append(changed(secret(PASSWORD), secret("old-" + PASSWORD)))
    controller.comparisons["guestbook"] = Comparison(revision=REV_HEAD, resources=resources)
    bot.command("/diff", "guestbook", user_id="U0DAVE")
    slack.wait_until(
        lambda: bool(bot.messages()) and bool(bot.messages()[0]["replies"]),
        what="the diff file in the thread",
    )
    summary = bot.messages()[0]
    assert "5 resources differ" in rendered(summary) and "attached file" in rendered(summary)
    (upload,) = summary["replies"][0]["files"]
    assert upload["name"] == f"guestbook-{REV_HEAD[:7]}.diff"
    assert "key59" in upload["content"] and "big3" in upload["content"]
    assert PASSWORD not in everything_slack_saw(slack)


def test_diff_without_differences_says_so(bot: BotUnderTest) -> None:
    bot.command("/diff", "guestbook", user_id="U0DAVE")
    bot.wait_messages("C0DEPLOYS", 1)
    assert "no differences" in rendered(bot.messages()[0])


def test_diff_that_could_not_compare_answers_privately(
    bot: BotUnderTest, controller: FakeController
) -> None:
    controller.comparisons["guestbook"] = Comparison(
        revision=REV_HEAD,
        conditions=[Condition("ComparisonError", "rendering failed: kustomization.yaml:3")],
    )
    reply = bot.command("/diff", "guestbook", user_id="U0DAVE")
    assert "kustomization.yaml:3" in bot.answers(reply)[0]
    assert bot.messages() == []


def test_toggle_selfheal_announces_the_new_state_and_who(
    bot: BotUnderTest, controller: FakeController
) -> None:
    bot.command("/toggle-selfheal", "guestbook", user_id="U0BOB")
    bot.wait_messages("C0DEPLOYS", 1)
    bot.command("/toggle-selfheal", "guestbook", user_id="U0BOB")
    bot.wait_messages("C0DEPLOYS", 2)
    first, second = (rendered(m) for m in bot.messages())
    assert "<@U0BOB>" in first and "self-heal *on*" in first
    assert "self-heal *off*" in second
    assert [c["enabled"] for c in controller.calls_of("set_self_heal")] == [True, False]
    assert len(audit_of(controller, action="toggle-selfheal", allowed=True)) == 2


def test_toggle_selfheal_needs_the_deployer_role(
    bot: BotUnderTest, controller: FakeController
) -> None:
    reply = bot.command("/toggle-selfheal", "guestbook", user_id="U0DAVE")
    assert "Not allowed" in bot.answers(reply)[0]
    assert controller.calls_of("set_self_heal") == []
    assert audit_of(controller, actor="U0DAVE", action="toggle-selfheal", allowed=False)


def test_gitops_read_commands_answer_privately(
    bot: BotUnderTest, controller: FakeController, slack: SlackSandbox
) -> None:
    controller.histories["guestbook"] = history_of(REV_OLD, REV_HEAD)
    answers = {}
    for text in ("apps", "status", "status guestbook", "history guestbook", "help", ""):
        reply = bot.command("/gitops", text, user_id="U0DAVE")
        answers[text] = bot.answers(reply)[0]
        effect = slack.responses(reply.response_url)[0]["effect"]
        assert effect["response_type"] == "ephemeral"
    assert "2 apps" in answers["apps"] and "payments" in answers["apps"]
    assert "2 apps" in answers["status"]
    status = answers["status guestbook"]
    assert "Degraded" in status and "crash-looping" in status and "SyncError" in status
    assert "#1" in answers["history guestbook"] and REV_HEAD[:7] in answers["history guestbook"]
    assert "/rollback guestbook ID" in answers["history guestbook"]
    assert "/toggle-selfheal" in answers["help"] and answers[""] == answers["help"]
    assert bot.messages() == []


def test_gitops_usage_errors_name_the_problem(bot: BotUnderTest) -> None:
    reply = bot.command("/gitops", "stauts", user_id="U0DAVE")
    answer = bot.answers(reply)[0]
    assert "unknown subcommand 'stauts'" in answer and "'status'" in answer
    missing = bot.command("/gitops", "history", user_id="U0DAVE")
    assert "missing APP" in bot.answers(missing)[0]


def test_an_unexpected_error_shows_an_id_and_no_stack_trace(
    bot: BotUnderTest,
    controller: FakeController,
    slack: SlackSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller.errors["diff"] = RuntimeError("boom at /srv/kajitori/secret-path.py line 3")
    with caplog.at_level(logging.ERROR, logger="bot"):
        reply = bot.command("/diff", "guestbook", user_id="U0DAVE")
        answer = bot.answers(reply)[0]
    assert "internal error, see logs (id " in answer
    error_id = answer.split("(id ")[1].split(")")[0]
    seen = everything_slack_saw(slack)
    assert "Traceback" not in seen and "boom" not in seen and "secret-path" not in seen
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_a_failed_upload_is_explained_privately(
    bot: BotUnderTest, controller: FakeController, slack: SlackSandbox
) -> None:
    resources = [changed(configmap(f"big{i}", 60), configmap(f"big{i}", 1)) for i in range(4)]
    controller.comparisons["guestbook"] = Comparison(revision=REV_HEAD, resources=resources)
    slack.fail_next("files.getUploadURLExternal", status=500)
    reply = bot.command("/diff", "guestbook", user_id="U0DAVE")
    answer = bot.answers(reply)[0]
    assert "uploading it as a file failed" in answer and "internal error" not in answer
    assert "4 resources differ" in rendered(bot.messages()[0])
