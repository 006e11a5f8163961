"""`kajitori demo` end to end: the stand-ins, kajitori built as `kajitori run` builds it, and
the console's actions, driven the way a newcomer drives them (slash commands and clicks
through the Slack stand-in, the console's buttons over HTTP); plus `kajitori run` with a
Slack section and `kajitori demo` itself as subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from bot.blocks import APPROVE_ACTION, ROLLBACK_CONFIRM_ACTION
from sandbox import demo_repo
from sandbox.demo import Demo
from sandbox.slack import SlackSandbox

CHANNEL = "C0DEPLOYS"
ALICE = "U0ALICE"
# How long an approval request may stand without an Approve button before that is a failure.
BUTTON_GRACE = 5.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One demo for the module's flow, fast: cluster delays at 5 %, no wave delay, drift
    reported after one second."""
    with Demo(
        tmp_path_factory.mktemp("demo"), time_factor=0.05, wave_delay=0, drift_debounce=1
    ) as running:
        yield running


def slack_of(demo: Demo) -> SlackSandbox:
    assert demo.slack is not None
    return demo.slack


def post(url: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def head_of_main(demo: Demo) -> str:
    assert demo.github is not None
    bare = demo.github.repo_path(demo_repo.OWNER, demo_repo.REPO)
    done = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", "refs/heads/main"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def channel_messages(slack: SlackSandbox) -> list[dict[str, Any]]:
    """#deploys' messages and their thread replies."""
    found: list[dict[str, Any]] = []
    for message in slack.messages(CHANNEL)["messages"]:
        found.append(message)
        found.extend(message.get("replies") or [])
    return found


def shown(message: dict[str, Any]) -> str:
    """Everything a message shows (text, blocks, attachments) as one string."""
    return json.dumps(
        [message.get("text"), message.get("blocks"), message.get("attachments")],
        ensure_ascii=False,
    )


def find(slack: SlackSandbox, *needles: str) -> dict[str, Any] | None:
    for message in channel_messages(slack):
        text = shown(message)
        if all(needle in text for needle in needles):
            return message
    return None


def approve_button(slack: SlackSandbox) -> str | None:
    """The ts of a #deploys message that offers an Approve button, if any."""
    for message in channel_messages(slack):
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("action_id") == APPROVE_ACTION:
                    return str(message["ts"])
    return None


def wait_for(
    slack: SlackSandbox, check: Callable[[], Any], what: str, timeout: float = 15.0
) -> Any:
    found: list[Any] = []

    def done() -> bool:
        value = check()
        if value:
            found.append(value)
        return bool(value)

    slack.wait_until(done, timeout=timeout, what=what)
    return found[0]


def deploy_through_approvals(demo: Demo, sha: str, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until #deploys says ``sha`` runs, approving the migration as alice whenever the
    channel asks (by clicking the Approve button, as a person would)."""
    slack = slack_of(demo)
    deadline = time.monotonic() + timeout
    clicked: set[str] = set()
    unanswerable_since: float | None = None
    while time.monotonic() < deadline:
        deployed = find(slack, "runs `" + sha[:7] + "`", "synced and healthy")
        if deployed is not None:
            return deployed
        button = approve_button(slack)
        if button is not None and button not in clicked:
            reply = slack.click_button(demo.bot_url, CHANNEL, button, APPROVE_ACTION, user_id=ALICE)
            assert reply.status == 200, reply.text
            clicked.add(button)
            unanswerable_since = None
        elif not clicked and button is None and find(slack, "waits for approval", sha[:7]):
            unanswerable_since = unanswerable_since or time.monotonic()
            if time.monotonic() - unanswerable_since > BUTTON_GRACE:
                pytest.fail(
                    "kajitori asked for approval of the db-migrate hook in #deploys, but no "
                    "message offers an Approve button: approvals cannot be given from Slack"
                )
        time.sleep(0.2)
    raise AssertionError(f"no 'deployed' notification for {sha[:7]} within {timeout} s")


# -- the newcomer's tour ----------------------------------------------------------------------


def test_the_newcomers_tour(demo: Demo) -> None:
    """The steps build on each other (the rollback needs two deployments), so they run in
    order in one test: a failure's traceback names the step that broke."""
    sync_asks_for_approval_then_deploys(demo)
    new_commit_is_deployed(demo)
    edit_live_object_is_reported_as_drift(demo)
    rollback_returns_the_cluster_and_opens_a_revert_pull_request(demo)


def sync_asks_for_approval_then_deploys(demo: Demo) -> None:
    slack = slack_of(demo)
    sha = head_of_main(demo)
    reply = slack.send_slash_command(demo.bot_url, "/sync", "demo", user_id=ALICE)
    assert reply.status == 200
    asked = wait_for(
        slack, lambda: find(slack, "waits for approval", "db-migrate"), "the approval request"
    )
    assert sha[:7] in shown(asked)
    deployed = deploy_through_approvals(demo, sha)
    assert "Sync Status" in shown(deployed)
    assert demo.github is not None
    statuses = [
        call
        for call in demo.github.calls()
        if call["method"] == "POST" and call["path"].endswith(f"/statuses/{sha}")
    ]
    assert any(call["body"]["state"] == "success" for call in statuses), statuses


def new_commit_is_deployed(demo: Demo) -> None:
    before = head_of_main(demo)
    status, answer = post(demo.console_url + "_demo/actions/new-commit")
    assert status == 200 and answer["ok"], answer
    sha = head_of_main(demo)
    assert sha != before and sha[:7] in answer["message"]
    assert "web 1.0.1" in answer["message"]
    deploy_through_approvals(demo, sha)
    # The migration did not change (kajitori.dev/hook-run: on-change): nobody was asked again.
    assert find(slack_of(demo), "waits for approval", sha[:7]) is None


def edit_live_object_is_reported_as_drift(demo: Demo) -> None:
    slack = slack_of(demo)
    status, answer = post(demo.console_url + "_demo/actions/edit-live-object")
    assert status == 200 and answer["ok"], answer
    assert "scaled 2 → 3" in answer["message"]
    drift = wait_for(
        slack,
        lambda: find(slack, "drifted", "spec.replicas", "kubectl-edit"),
        "the drift notification",
    )
    assert "Deployment.apps/demo/web" in shown(drift)


def rollback_returns_the_cluster_and_opens_a_revert_pull_request(demo: Demo) -> None:
    slack = slack_of(demo)
    reply = slack.send_slash_command(demo.bot_url, "/rollback", "demo", user_id=ALICE)
    assert reply.status == 200

    def confirm_button() -> str | None:
        for message in channel_messages(slack):
            for block in message.get("blocks") or []:
                for element in block.get("elements") or []:
                    if (
                        isinstance(element, dict)
                        and element.get("action_id") == ROLLBACK_CONFIRM_ACTION
                    ):
                        return str(message["ts"])
        return None

    ts = wait_for(slack, confirm_button, "the rollback preview with its confirm button")
    click = slack.click_button(demo.bot_url, CHANNEL, ts, ROLLBACK_CONFIRM_ACTION, user_id=ALICE)
    assert click.status == 200, click.text
    assert demo.github is not None
    github = demo.github

    def pull_request_opened() -> bool:
        return any(
            call["method"] == "POST" and call["path"].endswith("/pulls") for call in github.calls()
        )

    wait_for(slack, pull_request_opened, "the revert pull request")
    confirmed = wait_for(slack, lambda: find(slack, "Confirmed by", "pull"), "the PR link")
    assert "acme/demo-manifests" in shown(confirmed)


def test_the_console_serves_the_channel_with_a_demo_panel(demo: Demo) -> None:
    status, page = get(demo.console_url)
    assert status == 200
    html = page.decode()
    assert '"id": "new-commit"' in html and '"id": "edit-live-object"' in html
    assert "acme/demo-manifests" in html
    status, body = get(demo.console_url + "_sandbox/directory")  # passed to the Slack stand-in
    directory = json.loads(body)
    assert directory["bot_url"] == demo.bot_url
    assert ALICE in [user["id"] for user in directory["users"]]
    status, body = get(demo.console_url + "_demo")
    info = json.loads(body)
    assert info["kajitori"] and info["actions"] == ["edit-live-object", "new-commit"]
    status, answer = post(demo.console_url + "_demo/actions/deploy-everything")
    assert status == 404 and "no demo action 'deploy-everything'" in answer["error"]
    status, answer = post(
        demo.console_url + "_sandbox/command",
        json.dumps(
            {"command": "/gitops", "text": "help", "user_id": ALICE, "channel_id": CHANNEL}
        ).encode(),
    )
    assert status == 200 and answer["status"] == 200, answer


# -- the commands ------------------------------------------------------------------------------


class Lines:
    """Collects a subprocess stream's lines on a thread."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str] | None) -> None:
        for line in stream or ():
            self.lines.append(line.rstrip("\n"))

    def search(self, pattern: str) -> str | None:
        for line in list(self.lines):
            match = re.search(pattern, line)
            if match:
                return match.group(1)
        return None

    def join(self) -> None:
        self._thread.join(5)


def until(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s")


def stop(process: subprocess.Popen[str], how: int = signal.SIGTERM) -> int:
    process.send_signal(how)
    try:
        return process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_kajitori_run_with_slack_mounts_the_bot(tmp_path: Path, kubeconfig: Path) -> None:
    secret, token = "run-test-signing-secret", "xoxb-run-test-token"
    with SlackSandbox(signing_secret=secret, bot_token=token) as slack:
        config = tmp_path / "kajitori.yaml"
        config.write_text(
            "apiVersion: kajitori.dev/v1alpha1\nkind: Settings\n"
            "server: {host: 127.0.0.1, port: 0}\n"
            "slack:\n  mode: http\n  botToken: {env: T_BOT}\n  signingSecret: {env: T_SIGN}\n"
            f"  apiUrl: {slack.url}\n"
        )
        command = [sys.executable, "-m", "reconciler.cli", "run", "-c", str(config)]
        command += ["--kubeconfig", str(kubeconfig)]
        env = {**os.environ, "T_BOT": token, "T_SIGN": secret}
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        err = Lines(process.stderr)
        try:
            base = until(lambda: err.search(r"HTTP (http://[\d.]+:\d+)"), 30)
            url = base + "/slack/events"
            assert slack.send_slash_command(url, "/gitops", "help", signature="stale").status == 401
            reply = slack.send_slash_command(url, "/gitops", "help")
            assert reply.status == 200
            slack.wait_until(lambda: bool(slack.responses(reply.response_url)), what="help")
            assert "/toggle-selfheal" in json.dumps(slack.responses(reply.response_url))
            assert stop(process) == 0
        finally:
            if process.poll() is None:
                process.kill()
            err.join()
    output = "\n".join(err.lines)
    assert "1 notifier(s)" in output and "Slack: HTTP mode" in output
    assert token not in output and secret not in output


def test_kajitori_demo_prints_the_console_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    command = [sys.executable, "-m", "reconciler.cli", "demo", "--no-browser"]
    command += ["--workdir", str(workdir)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        console = until(lambda: out.search(r"Open the Slack console:\s+(http://\S+)"), 60)
        status, page = get(console)
        assert status == 200 and b"kajitori sandbox" in page
        assert stop(process, signal.SIGINT) == 0
    finally:
        if process.poll() is None:
            process.kill()
        out.join()
        err.join()
    assert "stopping the demo..." in out.lines
    log = (workdir / "kajitori.log").read_text()
    assert "kajitori is running" in log and log.rstrip().endswith("stopped")
    config = (workdir / "kajitori.yaml").read_text()
    assert "apiUrl: http://127.0.0.1:" in config
    assert not err.lines, err.lines
