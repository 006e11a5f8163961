"""reconciler.cluster_messages: how the API server's answers are worded for people."""

from __future__ import annotations

import base64
import json

from reconciler.cluster_messages import describe, scrub_secret_values, status_of, undeclared_field


def test_the_status_body_gives_message_and_reason() -> None:
    body = json.dumps({"kind": "Status", "message": 'configmaps "x" not found'}).encode()
    assert status_of(body, 404, "Not Found") == ('configmaps "x" not found', "Not Found")
    body = json.dumps({"message": "denied", "reason": "Forbidden"})
    assert status_of(body, 403, "Forbidden") == ("denied", "Forbidden")


def test_without_a_status_body_the_phrase_or_the_code_is_used() -> None:
    assert status_of(b"<html>bad gateway</html>", 502, "Bad Gateway") == (
        "Bad Gateway",
        "Bad Gateway",
    )
    assert status_of(None, 500, None) == ("HTTP 500", "")


def test_only_the_typed_patch_500_is_an_undeclared_field() -> None:
    assert undeclared_field(
        "failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): "
        ".spec.replica: field not declared in schema"
    )
    assert not undeclared_field("etcdserver: request timed out")


def test_secret_values_and_their_decodings_are_scrubbed() -> None:
    secret = {"kind": "Secret", "data": {"p": base64.b64encode(b"hunter22").decode()}}
    message = f"bad value {secret['data']['p']} (hunter22)"
    assert scrub_secret_values(message, secret) == "bad value *** (***)"
    assert scrub_secret_values("hunter22", {"kind": "ConfigMap"}) == "hunter22"


def test_objects_are_named_with_their_namespace() -> None:
    assert describe({"kind": "Service", "metadata": {"name": "web", "namespace": "shop"}}) == (
        "Service shop/web"
    )
    assert describe({"kind": "Job", "metadata": {"generateName": "migrate-"}}) == "Job migrate-"
