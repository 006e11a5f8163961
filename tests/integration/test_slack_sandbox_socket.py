"""Socket Mode in the Slack stand-in: ``apps.connections.open`` and its token rules, the
WebSocket (handshake, masking, ping/pong, close, fragments), hello, envelopes and acks,
disconnects, and the control API. Driven by slack_sdk's own built-in Socket Mode client and,
where a test must break the protocol on purpose, by a raw client written here."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from sandbox.slack import SlackSandbox
from sandbox.slack_websocket import (
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    accept_key,
    encode_frame,
)

APP_TOKEN = "xapp-1-A0KAJITORI-sandbox-test"


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(app_token=APP_TOKEN) as sandbox:
        yield sandbox


def open_url(slack: SlackSandbox) -> str:
    client = WebClient(token=slack.bot_token, base_url=slack.url)
    url: str = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    return url


class RawClient:
    """A deliberately small WebSocket client: it sends what a test tells it to, masked or
    not, and reads the server's frames one by one."""

    def __init__(self, url: str, *, key: str | None = None, upgrade: bool = True) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {parts.path}?{parts.query} HTTP/1.1", f"Host: {parts.hostname}"]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade"]
        lines += [f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13", "", ""]
        self.sock.sendall("\r\n".join(lines).encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        status_line, *header_lines = head.decode().strip().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {
            k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)
        }

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise EOFError("the server closed the connection")
            data += chunk
        return data

    def frame(self) -> tuple[int, bytes]:
        first, second = self._exactly(2)
        assert not second & 0x80, "server frames are never masked"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._exactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._exactly(8))[0]
        return first & 0x0F, self._exactly(size)

    def json(self) -> dict[str, Any]:
        while True:
            opcode, data = self.frame()
            if opcode == OP_TEXT:
                doc: dict[str, Any] = json.loads(data)
                return doc

    def send(self, opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> None:
        mask = os.urandom(4) if masked else None
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, mask=mask))

    def send_json(self, doc: dict[str, Any]) -> None:
        self.send(OP_TEXT, json.dumps(doc).encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(slack: SlackSandbox) -> Iterator[RawClient]:
    client = RawClient(open_url(slack))
    assert client.status == 101
    hello = client.json()
    assert hello["type"] == "hello"
    yield client
    client.close()


def acking_in_thread(client: RawClient, payload: dict[str, Any] | None = None) -> threading.Thread:
    """Answer the next envelope on ``client`` (with ``payload``) from another thread."""

    def answer() -> None:
        envelope = client.json()
        ack: dict[str, Any] = {"envelope_id": envelope["envelope_id"]}
        if payload is not None:
            ack["payload"] = payload
        client.send_json(ack)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


# -- apps.connections.open ----------------------------------------------------------------


def test_the_app_token_gets_a_one_use_websocket_url(slack: SlackSandbox) -> None:
    url = open_url(slack)
    parts = urlsplit(url)
    assert parts.scheme == "ws" and parts.path == "/link/"
    assert f"{parts.hostname}:{parts.port}" == urlsplit(slack.base_url).netloc
    assert "ticket=" in parts.query and "app_id=A0KAJITORI" in parts.query
    first = RawClient(url)
    assert first.status == 101
    again = RawClient(url)
    assert again.status == 401  # a ticket opens one connection
    first.close()
    again.close()


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("xoxb-sandbox", "not_allowed_token_type"),  # the bot token
        ("xapp-1-someone-else", "invalid_auth"),
    ],
)
def test_other_tokens_are_refused_with_slacks_codes(
    slack: SlackSandbox, token: str, error: str
) -> None:
    client = WebClient(base_url=slack.url)
    with pytest.raises(SlackApiError) as caught:
        client.apps_connections_open(app_token=token)
    assert caught.value.response["error"] == error
    assert slack.socket.connections() == []


def test_the_app_token_may_not_post_and_must_come_in_the_header(slack: SlackSandbox) -> None:
    app_client = WebClient(token=APP_TOKEN, base_url=slack.url)
    with pytest.raises(SlackApiError) as caught:
        app_client.chat_postMessage(channel="C0DEPLOYS", text="hi")
    assert caught.value.response["error"] == "not_allowed_token_type"
    assert slack.messages("C0DEPLOYS")["messages"] == []
    body = f"token={APP_TOKEN}".encode()
    request = urllib.request.Request(slack.url + "apps.connections.open", data=body)
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.load(answer) == {"ok": False, "error": "not_authed"}


def test_without_an_app_token_socket_mode_is_refused() -> None:
    with SlackSandbox() as slack:
        with pytest.raises(SlackApiError) as caught:
            WebClient(base_url=slack.url).apps_connections_open(app_token=APP_TOKEN)
        assert caught.value.response["error"] == "invalid_auth"


# -- the WebSocket --------------------------------------------------------------------------


def test_the_handshake_follows_rfc_6455(slack: SlackSandbox) -> None:
    # The RFC's own example key and answer.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    client = RawClient(open_url(slack))
    expected = base64.b64encode(
        hashlib.sha1((client.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    ).decode()
    assert client.headers["sec-websocket-accept"] == expected
    assert client.headers["upgrade"].lower() == "websocket"
    client.close()
    assert RawClient(open_url(slack), upgrade=False).status == 400
    assert RawClient(open_url(slack), key="too-short").status == 400


def test_hello_describes_the_connection(slack: SlackSandbox, raw: RawClient) -> None:
    second = RawClient(open_url(slack))
    hello = second.json()
    assert hello["num_connections"] == 2
    assert hello["connection_info"] == {"app_id": "A0KAJITORI"}
    assert hello["debug_info"]["host"]
    second.close()


def test_pings_are_answered_and_the_app_is_pinged(slack: SlackSandbox, raw: RawClient) -> None:
    raw.send(OP_PING, b"session:123.4")
    assert raw.frame() == (OP_PONG, b"session:123.4")
    results: dict[str, float | None] = {}
    pinger = threading.Thread(target=lambda: results.update(slack.socket.ping(timeout=5)))
    pinger.start()
    opcode, token = raw.frame()
    assert opcode == OP_PING
    raw.send(OP_PONG, token)
    pinger.join()
    (link,) = slack.socket.connections()
    assert results[link["id"]] is not None
    assert link["pings_received"] == 1 and link["pongs_received"] == 1


def test_an_unmasked_frame_is_a_protocol_error(slack: SlackSandbox, raw: RawClient) -> None:
    raw.send(OP_TEXT, b'{"envelope_id": "x"}', masked=False)
    opcode, data = raw.frame()
    assert opcode == OP_CLOSE and struct.unpack("!H", data[:2])[0] == 1002
    slack.wait_until(lambda: slack.socket.connections()[0]["state"] == "closed", what="close")
    link = slack.socket.connections()[0]
    assert link["closed_by"] == "slack" and "masked" in link["protocol_error"]


def test_text_that_is_not_utf8_closes_with_1007(slack: SlackSandbox, raw: RawClient) -> None:
    raw.send(OP_TEXT, b"\xff\xfe")
    opcode, data = raw.frame()
    assert opcode == OP_CLOSE and struct.unpack("!H", data[:2])[0] == 1007


def test_a_fragmented_ack_is_reassembled(slack: SlackSandbox, raw: RawClient) -> None:
    def answer() -> None:
        envelope = raw.json()
        text = json.dumps({"envelope_id": envelope["envelope_id"], "payload": {"text": "ok"}})
        half = len(text) // 2
        raw.send(OP_TEXT, text[:half].encode(), fin=False)
        raw.send(OP_PING, b"in between")  # control frames may come between fragments
        raw.send(OP_CONTINUATION, text[half:].encode())

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    reply = slack.socket.send_slash_command("/gitops", "help")
    thread.join()
    assert reply.on_time and reply.payload == {"text": "ok"}


def test_the_app_closing_is_answered_and_recorded(slack: SlackSandbox, raw: RawClient) -> None:
    raw.send(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
    opcode, data = raw.frame()
    assert opcode == OP_CLOSE and struct.unpack("!H", data[:2])[0] == 1000
    slack.wait_until(lambda: slack.socket.connections()[0]["state"] == "closed", what="close")
    link = slack.socket.connections()[0]
    assert link["closed_by"] == "app" and link["close_code"] == 1000


# -- envelopes and acks ---------------------------------------------------------------------


def test_a_slash_command_envelope_and_its_ack_are_shown_like_http(
    slack: SlackSandbox, raw: RawClient
) -> None:
    seen: list[dict[str, Any]] = []

    def answer() -> None:
        envelope = raw.json()
        seen.append(envelope)
        raw.send_json({"envelope_id": envelope["envelope_id"], "payload": {"text": "on it"}})

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    reply = slack.socket.send_slash_command("/sync", "guestbook", user_id="U0BOB")
    thread.join()
    (envelope,) = seen
    assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
    payload = envelope["payload"]
    assert payload["command"] == "/sync" and payload["text"] == "guestbook"
    assert payload["user_id"] == "U0BOB" and payload["channel_id"] == "C0DEPLOYS"
    assert payload["response_url"] == reply.response_url
    assert reply.on_time and reply.elapsed is not None and reply.elapsed < 3
    (shown,) = slack.messages("C0DEPLOYS")["ephemerals"]
    assert shown["text"] == "on it" and shown["to"] == "U0BOB"
    assert slack.responses(reply.response_url)[0]["via"] == "ack"
    (record,) = slack.socket.envelopes()
    assert record["status"] == "acked" and record["shown"] and record["ack_payload"]


def test_an_in_channel_ack_is_posted_for_everyone(slack: SlackSandbox, raw: RawClient) -> None:
    thread = acking_in_thread(raw, {"response_type": "in_channel", "text": "deploying"})
    slack.socket.send_slash_command("/sync", "guestbook")
    thread.join()
    assert [m["text"] for m in slack.messages("C0DEPLOYS")["messages"]] == ["deploying"]


def test_a_click_is_an_interactive_envelope(slack: SlackSandbox, raw: RawClient) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.url)
    blocks = [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "go",
                    "text": {"type": "plain_text", "text": "Go"},
                    "value": "v1",
                }
            ],
        }
    ]
    ts = client.chat_postMessage(channel="C0DEPLOYS", text="pick", blocks=blocks)["ts"]
    seen: list[dict[str, Any]] = []

    def answer() -> None:
        envelope = raw.json()
        seen.append(envelope)
        raw.send_json({"envelope_id": envelope["envelope_id"]})

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    reply = slack.socket.click_button("C0DEPLOYS", ts, "go", user_id="U0CAROL")
    thread.join()
    (envelope,) = seen
    assert envelope["type"] == "interactive" and envelope["accepts_response_payload"] is False
    payload = envelope["payload"]
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U0CAROL"
    assert payload["actions"][0]["action_id"] == "go" and payload["actions"][0]["value"] == "v1"
    assert payload["message"]["ts"] == ts and payload["response_url"] == reply.response_url
    assert reply.on_time and reply.payload is None


def test_late_and_missing_acks_are_counted_as_slack_would(
    slack: SlackSandbox, raw: RawClient
) -> None:
    slack.socket.ack_deadline = 0.2  # Slack's 3 s, shortened for the test
    missed = slack.socket.send_slash_command("/gitops", "help", timeout=0.4)
    assert missed.status == "missed" and not missed.acked
    envelope = raw.json()
    raw.send_json({"envelope_id": envelope["envelope_id"], "payload": {"text": "too late"}})
    slack.wait_until(lambda: slack.socket.envelopes()[0]["status"] == "late", what="late ack")
    assert slack.messages("C0DEPLOYS")["ephemerals"] == []  # a late ack is not shown
    assert [e["status"] for e in slack.socket.missed()] == ["late"]
    raw.send_json({"envelope_id": envelope["envelope_id"]})
    raw.send_json({"envelope_id": "no-such-envelope"})
    raw.send(OP_TEXT, b"not json")
    slack.wait_until(lambda: len(slack.socket.stray()) == 2, what="stray messages")
    assert [s["problem"] for s in slack.socket.stray()] == ["unknown envelope", "not JSON"]
    assert slack.socket.envelopes()[0]["duplicate_acks"] == 1


def test_without_a_connection_the_dispatch_fails(slack: SlackSandbox) -> None:
    reply = slack.socket.send_slash_command("/gitops", "help", timeout=1)
    assert reply.status == "dispatch_failed" and not reply.acked
    assert slack.socket.envelopes()[0]["status"] == "dispatch_failed"


def test_disconnect_warns_then_closes_and_new_envelopes_avoid_the_old_link(
    slack: SlackSandbox, raw: RawClient
) -> None:
    (old,) = slack.socket.open_connections()
    assert slack.socket.disconnect("refresh_requested", close_after=0.2) == [old]
    message = raw.json()
    assert message["type"] == "disconnect" and message["reason"] == "refresh_requested"
    assert message["debug_info"]["host"]
    opcode, data = raw.frame()
    assert opcode == OP_CLOSE and struct.unpack("!H", data[:2])[0] == 1001
    assert slack.socket.send_slash_command("/gitops", "help", timeout=1).status == (
        "dispatch_failed"
    )
    with pytest.raises(ValueError, match="refresh_requested"):
        slack.socket.disconnect("goodbye")


def test_the_control_api_shows_and_drives_socket_mode(slack: SlackSandbox, raw: RawClient) -> None:
    thread = acking_in_thread(raw, {"text": "from the console"})
    command = {"command": "gitops", "text": "help", "user_id": "U0ALICE", "channel_id": "C0DEPLOYS"}
    request = urllib.request.Request(
        slack.base_url + "/_sandbox/command", data=json.dumps(command).encode()
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        result = json.load(answer)
    thread.join()
    assert result["ok"] and result["status"] == 200 and "from the console" in result["body"]
    with urllib.request.urlopen(slack.base_url + "/_sandbox/socket", timeout=5) as answer:
        view = json.load(answer)
    assert [c["state"] for c in view["connections"]] == ["open"]
    assert [e["status"] for e in view["envelopes"]] == ["acked"]
    request = urllib.request.Request(
        slack.base_url + "/_sandbox/socket/disconnect",
        data=json.dumps({"reason": "link_disabled", "close_after": None}).encode(),
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.load(answer)["connections"] == [view["connections"][0]["id"]]
    assert raw.json()["reason"] == "link_disabled"
    bad = urllib.request.Request(
        slack.base_url + "/_sandbox/socket/disconnect", data=b'{"reason": "nope"}'
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(bad, timeout=5)
    assert caught.value.code == 400
    slack.reset()
    assert slack.socket.envelopes() == [] and len(slack.socket.connections()) == 1


# -- slack_sdk's built-in client ------------------------------------------------------------


def test_slack_sdks_client_reconnects_after_the_stand_in_closes_its_socket(
    slack: SlackSandbox,
) -> None:
    web = WebClient(token=slack.bot_token, base_url=slack.url)
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web, ping_interval=1)

    def listener(socket_client: Any, request: SocketModeRequest) -> None:
        response = SocketModeResponse(request.envelope_id, {"text": request.payload["text"]})
        socket_client.send_socket_mode_response(response)

    client.socket_mode_request_listeners.append(listener)
    try:
        client.connect()
        first = slack.socket.wait_connected()
        assert slack.socket.send_slash_command("/echo", "one").payload == {"text": "one"}
        assert slack.socket.close_connections() == 1  # a close frame, no disconnect message
        second = slack.socket.wait_connected(timeout=10, newer_than=first)
        reply = slack.socket.send_slash_command("/echo", "two")
        assert reply.payload == {"text": "two"}
        assert slack.socket.envelopes()[-1]["link"] == second
    finally:
        client.close()
