"""The pure rules of notification delivery: the per-channel pacer, what each Slack failure
means for sending again, which steps a policy takes, and the records' JSON round trip."""

from __future__ import annotations

from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

from bot.notify.delivery_pacer import ChannelPacer
from bot.notify.delivery_slack import classify, safe_client
from bot.notify.delivery_steps import needs_post, needs_update
from bot.notify.delivery_types import DeliveryRecord, DeliveryRequest


def api_error(status: int, body: dict[str, Any], headers: dict[str, Any] | None = None) -> Any:
    client = WebClient(token="xoxb-test")
    response = SlackResponse(
        client=client,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("failed", response)  # type: ignore[no-untyped-call]


def test_pacer_spaces_calls_from_the_end_of_the_previous_one() -> None:
    pacer = ChannelPacer(per_second=1.0)
    assert pacer.ready_at("C1") == 0.0
    pacer.spent("C1", ended_at=10.25)
    assert pacer.ready_at("C1") == 11.25 and pacer.ready_at("C2") == 0.0
    pacer.pause(until=20.0)  # a 429 pauses every channel
    assert pacer.ready_at("C1") == 20.0 and pacer.ready_at("C2") == 20.0
    assert ChannelPacer(per_second=20).interval == pytest.approx(0.05)
    with pytest.raises(ValueError, match="per_second"):
        ChannelPacer(per_second=0)


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (api_error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}),
         "rate_limited", "ratelimited"),
        (api_error(503, {"ok": False, "error": "service_unavailable"}), "transient",
         "service_unavailable"),
        (api_error(500, {"ok": False, "error": "internal_error"}), "ambiguous", "internal_error"),
        (api_error(200, {"ok": False, "error": "fatal_error"}), "ambiguous", "fatal_error"),
        (api_error(200, {"ok": False, "error": "not_in_channel"}), "permanent", "not_in_channel"),
        (api_error(200, {"ok": False, "error": "invalid_blocks"}), "permanent", "invalid_blocks"),
        (URLError(ConnectionRefusedError(111, "refused")), "transient", "connection refused"),
        (ConnectionRefusedError(111, "refused"), "transient", "connection refused"),
        (TimeoutError("timed out"), "ambiguous", "TimeoutError: timed out"),
        (ConnectionResetError(104, "reset"), "ambiguous",
         "ConnectionResetError: [Errno 104] reset"),
    ],
)  # fmt: skip
def test_failures_are_classified_by_whether_slack_may_have_acted(
    error: Exception, kind: str, code: str
) -> None:
    failure = classify(error)
    assert (failure.kind, failure.error) == (kind, code)


def test_retry_after_is_read_from_the_429() -> None:
    failure = classify(api_error(429, {"ok": False, "error": "ratelimited"}, {"retry-after": "7"}))
    assert failure.retry_after == 7.0
    assert classify(api_error(429, {"ok": False}, {})).retry_after == 1.0


def test_a_client_that_could_post_twice_is_replaced() -> None:
    risky = WebClient(token="xoxb-t", base_url="http://slack.test/api/", timeout=7)
    assert any(isinstance(h, ConnectionErrorRetryHandler) for h in risky.retry_handlers)
    safe = safe_client(risky)
    assert safe is not risky and safe.retry_handlers == []
    assert (safe.token, safe.base_url, safe.timeout) == ("xoxb-t", "http://slack.test/api/", 7)
    fine = WebClient(token="xoxb-t", retry_handlers=[RateLimitErrorRetryHandler()])
    assert safe_client(fine) is fine


def _record(policy: str, thread_ts: str | None) -> DeliveryRecord:
    request = DeliveryRequest.from_dict(
        {"key": "k", "app": "a", "trigger": "t", "channel": "c", "payload": {"text": "x"},
         "policy": policy}
    )  # fmt: skip
    return DeliveryRecord(request, thread_ts=thread_ts)


@pytest.mark.parametrize(
    ("policy", "thread_ts", "post", "update"),
    [
        ("Post", "", True, False),
        ("Post", "1.0", True, False),
        ("PostAndUpdate", "", True, False),
        ("PostAndUpdate", "1.0", True, True),
        ("Update", "", True, False),
        ("Update", "1.0", False, True),
    ],
)
def test_policies_as_in_argocd_notifications(
    policy: str, thread_ts: str, post: bool, update: bool
) -> None:
    record = _record(policy, thread_ts)
    assert (needs_post(record), needs_update(record)) == (post, update)


def test_records_round_trip_through_json() -> None:
    record = _record("PostAndUpdate", "1.0").with_(status="sending", attempts=2, posted_ts="")
    again = DeliveryRecord.from_json(
        DeliveryRequest.from_dict(record.request.to_dict()), record.progress_json()
    )
    assert again == record
    with pytest.raises(ValueError, match="unknown delivery policy 'Sometimes'"):
        DeliveryRequest.from_dict({**record.request.to_dict(), "policy": "Sometimes"})
    with pytest.raises(ValueError, match="field 'key' is missing"):
        DeliveryRequest.from_dict({"app": "a"})
    with pytest.raises(ValueError, match="unknown status 'lost'"):
        DeliveryRecord.from_json(record.request, '{"status": "lost"}')
