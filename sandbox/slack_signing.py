"""Requests the way Slack sends them to an app: bodies and signature headers.

Pure (the caller passes the clock reading). Slack signs every request to an app's Request URL:
``X-Slack-Request-Timestamp`` is the Unix time, ``X-Slack-Signature`` is ``v0=`` plus the hex
HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` keyed with the app's signing secret; apps reject
a bad signature or a timestamp more than five minutes from their clock. Slash commands arrive
form-encoded field by field; interactivity (block_actions, view_submission) arrives
form-encoded as one ``payload`` field holding JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

SignatureMode = Literal["valid", "bad", "stale", "missing"]
"""valid: a correct signature; bad: signed with another secret; stale: correctly signed but
six minutes old (outside the five-minute window); missing: no signature headers at all."""

STALE_AGE_SECONDS = 6 * 60
VERIFICATION_TOKEN = "sandbox-verification-token"  # the deprecated per-app token field
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def compute_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret."""
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(
    signing_secret: str, body: bytes, now: float, mode: SignatureMode = "valid"
) -> dict[str, str]:
    """Headers for a form-encoded request to an app, signed according to ``mode``."""
    headers = {"Content-Type": FORM_CONTENT_TYPE}
    if mode == "missing":
        return headers
    timestamp = str(int(now) - (STALE_AGE_SECONDS if mode == "stale" else 0))
    secret = signing_secret + "-not-the-secret" if mode == "bad" else signing_secret
    headers["X-Slack-Request-Timestamp"] = timestamp
    headers["X-Slack-Signature"] = compute_signature(secret, timestamp, body)
    return headers


def slash_command_form(**fields: str) -> bytes:
    """The form body Slack posts for a slash command (the fields of
    :func:`slash_command_fields`)."""
    return urlencode(slash_command_fields(**fields)).encode()


def slash_command_fields(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    team_id: str,
    team_domain: str,
    api_app_id: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The fields of a slash command as Slack sends them: form-encoded to a Request URL, a
    JSON object of strings as a Socket Mode envelope's payload."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def interactive_form(payload: Mapping[str, Any]) -> bytes:
    """The form body Slack posts for an interaction: ``payload=<JSON>``."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def block_actions_payload(
    *,
    user: Mapping[str, Any],
    team: Mapping[str, Any],
    channel: Mapping[str, Any] | None,
    container: Mapping[str, Any],
    message: Mapping[str, Any] | None,
    actions: list[dict[str, Any]],
    response_url: str,
    trigger_id: str,
    api_app_id: str,
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it when someone clicks in a message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": dict(user),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": dict(container),
        "trigger_id": trigger_id,
        "team": dict(team),
        "enterprise": None,
        "is_enterprise_install": False,
        "response_url": response_url,
        "actions": actions,
        "state": {"values": {}},
    }
    if channel is not None:
        payload["channel"] = dict(channel)
    if message is not None:
        payload["message"] = dict(message)
    return payload


def button_action(button: Mapping[str, Any], block_id: str, action_ts: str) -> dict[str, Any]:
    """The ``actions[]`` entry for a click on ``button``."""
    action: dict[str, Any] = {
        "type": "button",
        "action_id": button.get("action_id"),
        "block_id": block_id,
        "text": button.get("text"),
        "action_ts": action_ts,
    }
    for key in ("value", "style", "url"):
        if key in button:
            action[key] = button[key]
    return action


def view_submission_payload(
    *,
    user: Mapping[str, Any],
    team: Mapping[str, Any],
    view: Mapping[str, Any],
    trigger_id: str,
    api_app_id: str,
    response_urls: list[dict[str, Any]],
) -> dict[str, Any]:
    """A ``view_submission`` payload as Slack sends it when someone submits a modal."""
    full_view = {"type": "modal", "state": {"values": {}}, "private_metadata": "", **dict(view)}
    return {
        "type": "view_submission",
        "team": dict(team),
        "user": dict(user),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": full_view,
        "response_urls": response_urls,
        "is_enterprise_install": False,
        "enterprise": None,
    }
