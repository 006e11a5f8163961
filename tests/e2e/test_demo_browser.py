"""The demo console in a real browser: headless Chromium (Debian's package) driven by
Playwright types ``/sync demo`` into the command box, clicks Approve and accepts its confirm
dialog, waits for the "deployed" message, and saves a screenshot in the test's tmp dir (and, with
KAJITORI_UPDATE_SCREENSHOT=1, as docs/demo-console.png for the README; a plain test run leaves
the work tree alone).

Chromium or Playwright missing is a skip on a laptop (the reason is printed) but a failure in
CI: ``.ci/run`` installs both and sets ``KAJITORI_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sandbox import demo_repo
from sandbox.demo import Demo
from sandbox.slack import SlackSandbox

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Dialog, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "demo-console.png"
VIEWPORT = {"width": 1100, "height": 760}
# How long an approval request may stand without an Approve button before that is a failure.
BUTTON_GRACE = 5.0
DEPLOY_TIMEOUT = 40.0


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install playwright)"
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; skips with the reason printed when it or Playwright is missing,
    fails instead when KAJITORI_REQUIRE_BROWSER=1 (CI)."""
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("KAJITORI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required (KAJITORI_REQUIRE_BROWSER=1) but {reason}")
        print(f"browser test skipped: {reason}")
        pytest.skip(f"browser absent: {reason}")
    return CHROMIUM


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with Demo(tmp_path / "demo", time_factor=0.05, wave_delay=0, drift_debounce=1) as running:
        yield running


@pytest.fixture
def page(chromium: Path, tmp_path: Path) -> Iterator[Page]:
    """A page in a fresh headless Chromium profile; JavaScript errors fail the test."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("console", on_console)
            yield page
        finally:
            context.close()
    assert not errors, errors


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


def messages(page: Page, *needles: str) -> Locator:
    """The channel's messages (thread replies included) showing every one of ``needles``."""
    found = page.locator("#log .msg")
    for needle in needles:
        found = found.filter(has_text=needle)
    return found


def approval_id(button: Locator) -> str:
    """The approval ID shown in the message that holds ``button`` (its own text only, not its
    thread's)."""
    own_text = button.evaluate(
        """b => [...b.closest(".msg").children]
            .filter(part => !part.classList.contains("thread"))
            .map(part => part.innerText).join("\\n")""",
        timeout=1000,
    )
    found = re.search(r"Approval ([0-9a-f]+)", str(own_text))
    assert found, f"an Approve button in a message without an approval ID: {own_text!r}"
    return found.group(1)


def approve_through_the_page(page: Page, sha: str, dialogs: list[Dialog]) -> Locator:
    """Click the Approve button of each approval request the channel shows (accepting its
    confirm dialog), once each, until a message says ``sha`` is deployed; that message."""
    from playwright.sync_api import Error as PlaywrightError

    deployed = messages(page, "runs " + sha[:7], "synced and healthy")
    approve = page.locator("#log button", has_text="Approve")
    deadline = time.monotonic() + DEPLOY_TIMEOUT
    clicked: list[str] = []
    unanswerable_since: float | None = None
    while time.monotonic() < deadline:
        if deployed.count():
            return deployed.first
        for index in range(approve.count()):
            button = approve.nth(index)
            try:
                wanted = approval_id(button)
            except PlaywrightError:  # redrawn under us (the page polls every second)
                break
            if wanted not in clicked:
                button.click()
                clicked.append(wanted)
                break
        if not clicked and messages(page, "waits for approval", sha[:7]).count():
            unanswerable_since = unanswerable_since or time.monotonic()
            if time.monotonic() - unanswerable_since > BUTTON_GRACE:
                pytest.fail(
                    "the console shows kajitori asking for approval of db-migrate, but no "
                    "message has an Approve button to click"
                )
        page.wait_for_timeout(250)
    raise AssertionError(
        f"the console showed no 'deployed' message for {sha[:7]} within {DEPLOY_TIMEOUT} s "
        f"(approvals clicked: {clicked or 'none'}, {len(dialogs)} confirm dialog(s))"
    )


def test_sync_approve_and_deploy_in_the_browser(demo: Demo, page: Page, tmp_path: Path) -> None:
    shot = tmp_path / "demo-console.png"
    try:
        tour(demo, page)
    finally:
        page.screenshot(path=str(shot))  # on failure too: it shows where the tour stopped
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    if os.environ.get("KAJITORI_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)


def tour(demo: Demo, page: Page) -> None:
    """The newcomer's first steps, by typing and clicking; ends with the deployed message in
    view."""
    sha = head_of_main(demo)
    dialogs: list[Dialog] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(demo.console_url)
    page.locator("nav a.on", has_text="#deploys").wait_for()
    assert page.locator("#user").input_value() == "U0ALICE"
    assert page.locator("#demo-new-commit").is_visible()

    # The demo app syncs automatically at start: its approval request is the first thing a
    # newcomer sees; `/sync demo` then starts the sync over, as alice.
    asked = messages(page, "waits for approval", "db-migrate")
    asked.first.wait_for()
    assert sha[:7] in asked.first.inner_text()
    page.locator("#line").fill("/sync demo")
    page.locator("#line").press("Enter")
    answered = page.locator("#log .eph").or_(messages(page, "Syncing", "Started by", "@alice"))
    answered.first.wait_for()
    assert page.locator("#line").input_value() == "", "the command box is not cleared"

    deployed = approve_through_the_page(page, sha, dialogs)
    assert dialogs, "Approve was clicked but no confirm dialog was shown"
    assert all(dialog.type == "confirm" for dialog in dialogs)
    assert "Approve this migration?" in dialogs[0].message
    assert "db-migrate" in dialogs[0].message
    assert "Sync Status" in deployed.inner_text()
    approved = messages(page, "Approved by @alice")
    assert approved.count(), "the approval request does not say who approved it"
    assert not page.locator("#status").inner_text().strip(), page.locator("#status").inner_text()

    deployed.scroll_into_view_if_needed()


MRKDWN = (
    "*bold* _slanted_ ~struck~ `a|code` snake_case_name <https://example.com/x|a link> "
    "<javascript:alert(1)|bad link> <@U0BOB> :white_check_mark: :no_such_emoji: "
    "&lt;img src=x onerror=alert(1)&gt; <img src=x onerror=alert(2)>\n"
    "&gt; quoted *line*\nafter\n```two\nlines &lt;b&gt;x&lt;/b&gt;```"
)


def test_the_console_draws_mrkdwn_as_slack_does_and_never_as_html(page: Page) -> None:
    from slack_sdk import WebClient

    with SlackSandbox() as slack:
        client = WebClient(slack.bot_token, base_url=slack.url)
        client.chat_postMessage(
            channel="C0DEPLOYS",
            text="fallback",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": MRKDWN}},
                {"type": "header", "text": {"type": "plain_text", "text": "*not bold* :x:"}},
            ],
        )
        page.goto(slack.base_url + "/")
        log = page.locator("#log")
        log.locator(".msg").first.wait_for()
        assert log.locator("b").all_inner_texts() == ["bold", "line"]
        assert log.locator("i").all_inner_texts() == ["slanted"]
        assert log.locator("s").all_inner_texts() == ["struck"]
        assert log.locator("code").all_inner_texts() == ["a|code"]
        assert log.locator(".quote").inner_text() == "quoted line"
        assert log.locator("pre").inner_text() == "two\nlines <b>x</b>"
        links = log.locator("a")
        assert links.count() == 1 and links.inner_text() == "a link"
        assert links.get_attribute("href") == "https://example.com/x"
        assert log.locator("img, script").count() == 0
        text = log.inner_text()
        assert "snake_case_name" in text and "@bob" in text and "bad link" in text
        assert "\u2705" in text and ":no_such_emoji:" in text
        assert "<img src=x onerror=alert(1)>" in text
        assert log.locator(".header").inner_text() == "*not bold* \u274c"
