"""The Slack stand-in's Web API, driven by the real slack_sdk WebClient over HTTP."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from sandbox.slack import SlackSandbox


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client(slack: SlackSandbox) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.url)


def api_error(call: Any, *args: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, **extra}


def top_level(slack: SlackSandbox, channel: str = "C0DEPLOYS") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = slack.messages(channel)["messages"]
    return messages


# ---- auth --------------------------------------------------------------------------------------


def test_auth_test_names_the_bot_and_wrong_or_missing_tokens_are_refused(
    slack: SlackSandbox, client: WebClient
) -> None:
    me = client.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("U0KAJITORI", "B0KAJITORI", "T0SANDBOX")
    wrong = api_error(WebClient(token="xoxb-wrong", base_url=slack.url).auth_test)
    assert wrong.response["error"] == "invalid_auth"
    missing = api_error(WebClient(base_url=slack.url).auth_test)
    assert missing.response["error"] == "not_authed"
    assert [c["error"] for c in slack.calls("auth.test")] == [None, "invalid_auth", "not_authed"]


def test_token_as_form_parameter_and_form_encoded_blocks_are_accepted(slack: SlackSandbox) -> None:
    body = urllib.parse.urlencode(
        {
            "token": slack.bot_token,
            "channel": "deploys",
            "text": "fallback",
            "blocks": json.dumps([section("*form* encoded")]),
        }
    ).encode()
    with urllib.request.urlopen(slack.url + "chat.postMessage", data=body) as answer:
        doc = json.loads(answer.read())
    assert doc["ok"] and doc["channel"] == "C0DEPLOYS"
    [message] = top_level(slack)
    assert message["blocks"][0]["text"]["text"] == "*form* encoded"
    call = slack.calls("chat.postMessage")[0]
    assert "token" not in call["args"] and call["args"]["channel"] == "deploys"


# ---- messages, threads, edits ----------------------------------------------------------------


def test_post_reply_and_update_show_as_thread_with_edit_history(
    slack: SlackSandbox, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel="#deploys", text="Syncing guestbook")
    assert parent["message"]["bot_id"] == "B0KAJITORI"
    reply = client.chat_postMessage(channel="C0DEPLOYS", text="wave 0 done", thread_ts=parent["ts"])
    # a reply to a reply lands in the parent's thread, as in Slack
    client.chat_postMessage(channel="C0DEPLOYS", text="wave 1 done", thread_ts=reply["ts"])
    client.chat_update(channel="C0DEPLOYS", ts=parent["ts"], text="Synced guestbook")

    [shown] = top_level(slack)
    assert shown["text"] == "Synced guestbook"
    assert shown["edited"] is True
    assert [e["text"] for e in shown["edits"]] == ["Syncing guestbook"]
    assert [r["text"] for r in shown["replies"]] == ["wave 0 done", "wave 1 done"]
    assert {r["thread_ts"] for r in shown["replies"]} == {parent["ts"]}

    thread = client.conversations_replies(channel="C0DEPLOYS", ts=parent["ts"])["messages"]
    assert [m["text"] for m in thread] == ["Synced guestbook", "wave 0 done", "wave 1 done"]
    assert thread[0]["reply_count"] == 2


def test_update_keeps_blocks_it_does_not_replace(slack: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="t", blocks=[section("status")])
    client.chat_update(channel="C0DEPLOYS", ts=posted["ts"], text="new fallback")
    [shown] = top_level(slack)
    assert shown["text"] == "new fallback"
    assert shown["blocks"][0]["text"]["text"] == "status"


def test_update_and_delete_of_unknown_ts_is_message_not_found(
    slack: SlackSandbox, client: WebClient
) -> None:
    err = api_error(client.chat_update, channel="C0DEPLOYS", ts="1.000001", text="x")
    assert err.response["error"] == "message_not_found"
    posted = client.chat_postMessage(channel="C0DEPLOYS", text="gone soon")
    client.chat_delete(channel="C0DEPLOYS", ts=posted["ts"])
    assert top_level(slack) == []
    again = api_error(client.chat_delete, channel="C0DEPLOYS", ts=posted["ts"])
    assert again.response["error"] == "message_not_found"


def test_generated_block_and_action_ids_fill_gaps(slack: SlackSandbox, client: WebClient) -> None:
    client.chat_postMessage(
        channel="C0DEPLOYS",
        text="t",
        blocks=[{"type": "actions", "elements": [button("A"), button("B", action_id="b")]}],
    )
    [shown] = top_level(slack)
    block = shown["blocks"][0]
    assert block["block_id"]
    assert block["elements"][0]["action_id"] and block["elements"][1]["action_id"] == "b"


def test_ephemeral_goes_to_a_member_only(slack: SlackSandbox, client: WebClient) -> None:
    sent = client.chat_postEphemeral(channel="C0DEPLOYS", user="U0BOB", text="only you")
    [ephemeral] = slack.messages("C0DEPLOYS")["ephemerals"]
    assert (ephemeral["to"], ephemeral["text"], ephemeral["ts"]) == (
        "U0BOB",
        "only you",
        sent["message_ts"],
    )
    assert top_level(slack) == []
    # Dave is not in #deploys
    err = api_error(client.chat_postEphemeral, channel="C0DEPLOYS", user="U0DAVE", text="x")
    assert err.response["error"] == "user_not_in_channel"


def test_bot_outside_a_channel_cannot_post_there(slack: SlackSandbox, client: WebClient) -> None:
    err = api_error(client.chat_postMessage, channel="C0RANDOM", text="hello")
    assert err.response["error"] == "not_in_channel"
    slack.add_channel("C0OPS", "ops", members=["U0ALICE"])
    assert client.chat_postMessage(channel="#ops", text="hello")["channel"] == "C0OPS"


# ---- directory -------------------------------------------------------------------------------


def test_directory_methods(slack: SlackSandbox, client: WebClient) -> None:
    info = client.conversations_info(channel="C0DEPLOYS", include_num_members=True)["channel"]
    assert (info["name"], info["is_member"], info["num_members"]) == ("deploys", True, 4)
    assert client.users_info(user="U0ALICE")["user"]["real_name"] == "Alice Archer"
    assert client.usergroups_users_list(usergroup="S0PLATFORM")["users"] == ["U0ALICE", "U0CAROL"]
    opened = client.conversations_open(users="U0BOB")
    assert opened["channel"]["id"].startswith("D")
    again = client.conversations_open(users="U0BOB")
    assert again["already_open"] and again["channel"]["id"] == opened["channel"]["id"]
    client.chat_postMessage(channel=opened["channel"]["id"], text="psst")
    assert slack.messages(opened["channel"]["id"])["messages"][0]["text"] == "psst"

    slack.add_user("U0ERIN", "erin", channels=["C0DEPLOYS"])
    slack.add_usergroup("S0ONCALL", "oncall", ["U0ERIN"])
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0ERIN"]
    assert client.chat_postEphemeral(channel="C0DEPLOYS", user="U0ERIN", text="hi")["ok"]

    errors = [
        api_error(client.users_info, user="U0NOBODY").response["error"],
        api_error(client.usergroups_users_list, usergroup="S0NONE").response["error"],
        api_error(client.conversations_info, channel="C0NONE").response["error"],
        api_error(client.conversations_replies, channel="C0DEPLOYS", ts="1.1").response["error"],
        api_error(client.api_call, "chat.unfurl", json={}).response["error"],
    ]
    assert errors == [
        "user_not_found",
        "no_such_subteam",
        "channel_not_found",
        "thread_not_found",
        "unknown_method",
    ]


# ---- files -----------------------------------------------------------------------------------


def test_files_upload_v2_shares_the_file_into_the_thread(
    slack: SlackSandbox, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel="C0DEPLOYS", text="diff of guestbook")
    diff = "--- live\n+++ desired\n-replicas: 1\n+replicas: 3\n" * 200
    done = client.files_upload_v2(
        channel="C0DEPLOYS",
        content=diff,
        filename="guestbook.diff",
        title="guestbook diff",
        initial_comment="full diff attached",
        thread_ts=parent["ts"],
    )
    file_id = done["file"]["id"]
    [reply] = top_level(slack)[0]["replies"]
    assert reply["text"] == "full diff attached"
    [shared] = reply["files"]
    assert (shared["id"], shared["title"], shared["content"]) == (file_id, "guestbook diff", diff)
    assert slack.file_content(file_id) == diff.encode()
    assert [c["method"] for c in slack.calls()][-2:] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


def test_completing_an_upload_that_never_arrived_is_file_not_found(client: WebClient) -> None:
    ticket = client.files_getUploadURLExternal(filename="x.txt", length=3)
    err = api_error(
        client.files_completeUploadExternal,
        files=[{"id": ticket["file_id"], "title": "x"}],
        channel_id="C0DEPLOYS",
    )
    assert err.response["error"] == "file_not_found"


# ---- faults ----------------------------------------------------------------------------------


def test_429_carries_retry_after_and_records_no_message(
    slack: SlackSandbox, client: WebClient
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    err = api_error(client.chat_postMessage, channel="C0DEPLOYS", text="hello")
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] in ("7", ["7"])
    assert top_level(slack) == []
    assert client.chat_postMessage(channel="C0DEPLOYS", text="hello")["ok"]


def test_rate_limit_retry_handler_ends_with_exactly_one_message(slack: SlackSandbox) -> None:
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    slack.fail_next("chat.postMessage", times=2, retry_after=0)
    assert retrying.chat_postMessage(channel="C0DEPLOYS", text="deployed")["ok"]
    assert [m["text"] for m in top_level(slack)] == ["deployed"]
    assert [c["http_status"] for c in slack.calls("chat.postMessage")] == [429, 429, 200]


def test_server_error_retry_handler_ends_with_exactly_one_message(slack: SlackSandbox) -> None:
    retrying = WebClient(
        token=slack.bot_token,
        base_url=slack.url,
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)],
    )
    slack.fail_next("chat.postMessage", status=503)
    assert retrying.chat_postMessage(channel="C0DEPLOYS", text="deployed")["ok"]
    assert len(top_level(slack)) == 1
    assert [c["error"] for c in slack.calls("chat.postMessage")] == ["service_unavailable", None]


def test_faults_apply_to_the_named_method_only_and_latency_delays(
    slack: SlackSandbox, client: WebClient
) -> None:
    slack.fail_next("chat.update", status=500)
    assert client.chat_postMessage(channel="C0DEPLOYS", text="unaffected")["ok"]
    slack.set_latency(0.3, "auth.test")
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3
    slack.set_latency(0, "auth.test")
    ts = top_level(slack)[0]["ts"]
    err = api_error(client.chat_update, channel="C0DEPLOYS", ts=ts, text="edit")
    assert err.response.status_code == 500
    assert top_level(slack)[0]["edited"] is False


# ---- the control API over HTTP ---------------------------------------------------------------


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url) as answer:
        return json.loads(answer.read())


def post_json(url: str, doc: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_control_api_lists_messages_and_calls_and_resets(
    slack: SlackSandbox, client: WebClient
) -> None:
    client.chat_postMessage(channel="C0DEPLOYS", text="one")
    view = get_json(slack.base_url + "/_sandbox/messages")
    assert view["channels"]["C0DEPLOYS"]["messages"][0]["text"] == "one"
    assert get_json(slack.base_url + "/_sandbox/messages?channel=C0DEPLOYS")["name"] == "deploys"
    calls = get_json(slack.base_url + "/_sandbox/calls?method=chat.postMessage")["calls"]
    assert calls[0]["args"] == {"channel": "C0DEPLOYS", "text": "one"}

    assert post_json(slack.base_url + "/_sandbox/faults", {"method": "*", "status": 429}) == (
        200,
        {"ok": True},
    )
    assert api_error(client.auth_test).response["error"] == "ratelimited"
    status, doc = post_json(slack.base_url + "/_sandbox/faults", {"method": "x", "times": "2"})
    assert status == 400 and "'times'" in doc["error"]

    assert post_json(slack.base_url + "/_sandbox/reset", {})[0] == 200
    assert top_level(slack) == [] and slack.calls() == []


def test_connections_are_kept_alive(slack: SlackSandbox) -> None:
    host, port = slack.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Authorization": f"Bearer {slack.bot_token}"}
    try:
        for _ in range(3):
            conn.request("POST", "/api/auth.test", headers=headers)
            answer = conn.getresponse()
            assert json.loads(answer.read())["ok"] is True
            assert answer.getheader("Connection") != "close"
    finally:
        conn.close()
    assert len(slack.calls("auth.test")) == 3
