"""The Slack stand-in driving a real slack_bolt app over HTTP: signed slash commands, button
clicks and modal submissions in, Web API calls and response_url posts out."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond, Say
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from sandbox.slack import SlackSandbox
from sandbox.slack_signing import (
    SignatureMode,
    interactive_form,
    signed_headers,
    slash_command_form,
)

SECRET = "test-signing-secret"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def approval_blocks(app_name: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Deploy *{app_name}*?"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": app_name,
                    "style": "primary",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Sure?"},
                        "text": {"type": "mrkdwn", "text": "Deploy it"},
                        "confirm": {"type": "plain_text", "text": "Yes"},
                        "deny": {"type": "plain_text", "text": "No"},
                    },
                },
                {
                    "type": "button",
                    "action_id": "reject",
                    "text": {"type": "plain_text", "text": "Reject"},
                },
            ],
        },
    ]


def build_app(slack: SlackSandbox) -> App:
    client = WebClient(token=slack.bot_token, base_url=slack.url)
    app = App(client=client, signing_secret=SECRET)

    @app.command("/deploy")
    def deploy(ack: Ack, command: dict[str, Any], say: Say) -> None:
        ack(f"Deploying {command['text']}")
        say(text=f"Deploy {command['text']}?", blocks=approval_blocks(command["text"]))

    @app.command("/ask")
    def ask(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_postEphemeral(
            channel=command["channel_id"],
            user=command["user_id"],
            text="Deploy?",
            blocks=approval_blocks(command["text"]),
        )

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        value = body["actions"][0]["value"]
        respond(replace_original=True, text=f"{value} approved by <@{body['user']['id']}>")

    @app.action("reject")
    def reject(ack: Ack, respond: Respond) -> None:
        ack()
        respond(delete_original=True)

    @app.action("custom")
    def custom(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="custom seen")

    @app.view("rollback")
    def rollback(ack: Ack, view: dict[str, Any]) -> None:
        reason = view["state"]["values"].get("reason", {}).get("input", {}).get("value")
        if not reason:
            ack(response_action="errors", errors={"reason": "Say why you roll back"})
        else:
            ack()

    return app


@pytest.fixture
def clock_offset() -> list[float]:
    """Seconds added to the sandbox's clock (the bot keeps the real one)."""
    return [0.0]


@pytest.fixture
def slack(clock_offset: list[float]) -> Iterator[SlackSandbox]:
    with SlackSandbox(
        signing_secret=SECRET, clock=lambda: time.time() + clock_offset[0]
    ) as sandbox:
        yield sandbox


@pytest.fixture
def bot_url(slack: SlackSandbox) -> Iterator[str]:
    handler = SlackRequestHandler(build_app(slack))
    server = make_server(
        "127.0.0.1", 0, handler, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def channel_messages(slack: SlackSandbox, channel: str = "C0DEPLOYS") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = slack.messages(channel)["messages"]
    return messages


def post_to(url: str, doc: Any) -> tuple[int, dict[str, Any]]:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# ---- signing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "valid"), [("valid", True), ("bad", False), ("stale", False)])
def test_signatures_agree_with_slack_sdks_verifier(mode: SignatureMode, valid: bool) -> None:
    body = slash_command_form(
        command="/sync",
        text="guestbook --prune",
        user_id="U0ALICE",
        user_name="alice",
        channel_id="C0DEPLOYS",
        channel_name="deploys",
        team_id="T0SANDBOX",
        team_domain="sandbox",
        api_app_id="A0KAJITORI",
        response_url="http://127.0.0.1:1/hooks/commands/x",
        trigger_id="1.2.3",
    )
    headers = signed_headers(SECRET, body, time.time(), mode)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers) is valid
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    ) is (valid)
    assert SignatureVerifier("another-secret").is_valid_request(body, headers) is False


def test_missing_signature_headers_fail_verification() -> None:
    body = interactive_form({"type": "block_actions"})
    headers = signed_headers(SECRET, body, time.time(), "missing")
    assert "X-Slack-Signature" not in headers
    assert SignatureVerifier(SECRET).is_valid_request(body, headers) is False


@pytest.mark.parametrize("mode", ["bad", "stale", "missing"])
def test_bolt_rejects_bad_stale_and_missing_signatures_with_401(
    slack: SlackSandbox, bot_url: str, mode: SignatureMode
) -> None:
    reply = slack.send_slash_command(bot_url, "/deploy", "guestbook", signature=mode)
    assert reply.status == 401
    assert channel_messages(slack) == []
    assert slack.responses(reply.response_url) == []


# ---- slash commands and buttons --------------------------------------------------------------


def test_slash_command_ack_say_and_approve_click(slack: SlackSandbox, bot_url: str) -> None:
    reply = slack.send_slash_command(bot_url, "/deploy", "guestbook", user_id="U0ALICE")
    assert reply.status == 200
    assert reply.elapsed < 3.0
    [ack] = slack.responses(reply.response_url)
    assert (ack["via"], ack["body"]["text"], ack["effect"]["response_type"]) == (
        "ack",
        "Deploying guestbook",
        "ephemeral",
    )
    [ephemeral] = slack.messages("C0DEPLOYS")["ephemerals"]
    assert (ephemeral["to"], ephemeral["text"]) == ("U0ALICE", "Deploying guestbook")

    slack.wait_until(lambda: len(channel_messages(slack)) == 1, what="the approval message")
    [question] = channel_messages(slack)
    assert question["blocks"][1]["elements"][0]["action_id"] == "approve"

    click = slack.click_button(bot_url, "C0DEPLOYS", question["ts"], "approve", user_id="U0BOB")
    assert click.status == 200
    slack.wait_until(lambda: channel_messages(slack)[0]["edited"], what="the approval edit")
    [answered] = channel_messages(slack)
    assert answered["text"] == "guestbook approved by <@U0BOB>"
    assert answered["edits"][0]["text"] == "Deploy guestbook?"
    [post] = slack.responses(click.response_url)
    assert post["effect"] == {"replaced": question["ts"], "ephemeral": False}
    assert post["user"] == "U0BOB"


def test_reject_click_deletes_the_original(slack: SlackSandbox, bot_url: str) -> None:
    slack.send_slash_command(bot_url, "/deploy", "guestbook")
    slack.wait_until(lambda: len(channel_messages(slack)) == 1, what="the approval message")
    ts = channel_messages(slack)[0]["ts"]
    assert slack.click_button(bot_url, "C0DEPLOYS", ts, "reject").status == 200
    slack.wait_until(lambda: channel_messages(slack) == [], what="the deletion")


def test_button_on_an_ephemeral_replaces_the_ephemeral(slack: SlackSandbox, bot_url: str) -> None:
    slack.send_slash_command(bot_url, "/ask", "billing", user_id="U0CAROL")
    slack.wait_until(
        lambda: len(slack.messages("C0DEPLOYS")["ephemerals"]) == 1, what="the ephemeral"
    )
    [ephemeral] = slack.messages("C0DEPLOYS")["ephemerals"]
    with pytest.raises(ValueError, match="visible to U0CAROL only"):
        slack.click_button(bot_url, "C0DEPLOYS", ephemeral["ts"], "approve", user_id="U0BOB")
    with pytest.raises(ValueError, match="no element with action_id 'nope'"):
        slack.click_button(bot_url, "C0DEPLOYS", ephemeral["ts"], "nope", user_id="U0CAROL")
    slack.click_button(bot_url, "C0DEPLOYS", ephemeral["ts"], "approve", user_id="U0CAROL")
    slack.wait_until(
        lambda: slack.messages("C0DEPLOYS")["ephemerals"][0]["edits"] != [],
        what="the replaced ephemeral",
    )
    [replaced] = slack.messages("C0DEPLOYS")["ephemerals"]
    assert replaced["text"] == "billing approved by <@U0CAROL>"
    assert channel_messages(slack) == []


def test_caller_built_block_action_gets_a_response_url(slack: SlackSandbox, bot_url: str) -> None:
    payload = {
        "user": {"id": "U0DAVE"},
        "channel": {"id": "C0GENERAL"},
        "container": {"type": "message", "channel_id": "C0GENERAL", "message_ts": "1.000001"},
        "actions": [{"type": "button", "action_id": "custom", "block_id": "b", "value": "v"}],
    }
    reply = slack.send_block_action(bot_url, payload)
    assert reply.status == 200 and reply.response_url
    slack.wait_until(lambda: len(slack.responses(reply.response_url)) == 1, what="respond()")
    [ephemeral] = slack.messages("C0GENERAL")["ephemerals"]
    assert (ephemeral["to"], ephemeral["text"]) == ("U0DAVE", "custom seen")


def test_view_submission_answer_is_returned(slack: SlackSandbox, bot_url: str) -> None:
    empty = slack.send_view_submission(bot_url, {"callback_id": "rollback"})
    assert empty.status == 200
    assert empty.json() == {
        "response_action": "errors",
        "errors": {"reason": "Say why you roll back"},
    }
    state = {"values": {"reason": {"input": {"type": "plain_text_input", "value": "bad deploy"}}}}
    filled = slack.send_view_submission(bot_url, {"callback_id": "rollback", "state": state})
    assert (filled.status, filled.body) == (200, b"")


# ---- response_url semantics ------------------------------------------------------------------


def test_response_url_in_channel_ephemeral_errors_and_use_limit(
    slack: SlackSandbox, bot_url: str
) -> None:
    url = slack.send_slash_command(bot_url, "/deploy", "guestbook").response_url
    assert url is not None
    assert post_to(url, {"text": "everyone sees this", "response_type": "in_channel"})[0] == 200
    assert post_to(url, {"text": "only alice"})[0] == 200
    assert post_to(url, b"{not json") == (400, {"ok": False, "error": "invalid_payload"})
    assert post_to(url, {"response_type": "in_channel"})[1]["error"] == "no_text"
    assert post_to(url, {"text": "x", "replace_original": True})[0] == 200
    assert post_to(url, {"text": "sixth"}) == (404, {"ok": False, "error": "used_url"})

    # the bot's own approval message plus the in_channel post
    slack.wait_until(lambda: len(channel_messages(slack)) == 2, what="the in_channel post")
    texts = {m["text"] for m in channel_messages(slack)}
    assert "everyone sees this" in texts
    ephemerals = slack.messages("C0DEPLOYS")["ephemerals"]
    # ack, then "only alice" which the replace_original post replaced
    assert [e["text"] for e in ephemerals] == ["Deploying guestbook", "x"]
    assert ephemerals[1]["edits"][0]["text"] == "only alice"
    statuses = [r["status"] for r in slack.responses(url) if r["via"] == "response_url"]
    assert statuses == [200, 200, 400, 400, 200, 404]


def test_response_url_expires_after_thirty_minutes(
    slack: SlackSandbox, bot_url: str, clock_offset: list[float]
) -> None:
    url = slack.send_slash_command(bot_url, "/ask", "x").response_url
    assert url is not None
    clock_offset[0] = 29 * 60
    assert post_to(url, {"text": "in time"})[0] == 200
    clock_offset[0] = 31 * 60
    assert post_to(url, {"text": "late"}) == (404, {"ok": False, "error": "expired_url"})


def test_unknown_user_or_channel_in_a_command_is_a_clear_error(
    slack: SlackSandbox, bot_url: str
) -> None:
    with pytest.raises(ValueError, match="unknown user 'U0NOBODY'"):
        slack.send_slash_command(bot_url, "/deploy", user_id="U0NOBODY")
    with pytest.raises(ValueError, match="unknown channel 'C0NOPE'"):
        slack.send_slash_command(bot_url, "/deploy", channel_id="C0NOPE")


# ---- the console and its control endpoints ---------------------------------------------------


def test_console_drives_the_bot_through_command_and_click(
    slack: SlackSandbox, bot_url: str
) -> None:
    with urllib.request.urlopen(slack.base_url + "/") as page:
        assert page.headers["Content-Type"].startswith("text/html")
        assert b"/_sandbox/command" in page.read()
    command = {
        "command": "/deploy",
        "text": "guestbook",
        "user_id": "U0BOB",
        "channel_id": "C0DEPLOYS",
    }
    status, doc = post_to(slack.base_url + "/_sandbox/command", command)
    assert status == 400 and "no bot_url" in doc["error"]

    slack.bot_url = bot_url
    with urllib.request.urlopen(slack.base_url + "/_sandbox/directory") as answer:
        directory = json.loads(answer.read())
    assert directory["bot_url"] == bot_url
    assert "U0ALICE" in {u["id"] for u in directory["users"]}
    status, doc = post_to(slack.base_url + "/_sandbox/command", command)
    assert (status, doc["status"]) == (200, 200)
    slack.wait_until(lambda: len(channel_messages(slack)) == 1, what="the approval message")
    ts = channel_messages(slack)[0]["ts"]
    click = {"channel": "C0DEPLOYS", "ts": ts, "action_id": "approve", "user_id": "U0CAROL"}
    assert post_to(slack.base_url + "/_sandbox/click", click)[0] == 200
    slack.wait_until(lambda: channel_messages(slack)[0]["edited"], what="the approval edit")
    assert channel_messages(slack)[0]["text"] == "guestbook approved by <@U0CAROL>"
    wrong = post_to(slack.base_url + "/_sandbox/click", {**click, "action_id": "nope"})
    assert wrong[0] == 400 and "nope" in wrong[1]["error"]
