"""Revert pull request titles and bodies (reconciler.revert_text)."""

from __future__ import annotations

from reconciler.revert_text import MAX_LISTED, RevertRequest, revert_body, revert_title
from reconciler.source import CommitInfo

TARGET = "0123456789abcdef0123456789abcdef01234567"


def commit(n: int, title: str = "bump") -> CommitInfo:
    sha = f"{n:040x}"
    return CommitInfo(sha, "Dev One", "dev@example.com", "2024-05-01T12:00:00+00:00", title)


def test_title_and_body() -> None:
    request = RevertRequest(
        app="web",
        target_sha=TARGET,
        requested_by="<@U123>",
        thread_url="https://acme.slack.com/archives/C1/p17",
        path="apps/web",
    )
    assert revert_title(request) == "Revert web manifests to 0123456"
    assert revert_title(request, "application") == "Revert web application to 0123456"
    body = revert_body(
        request,
        [commit(2, "second\n\ndetails"), commit(1, "first")],
        web_url="https://github.com/acme/manifests/",
        related_url="https://github.com/acme/web/pull/7",
    )
    lines = body.splitlines()
    assert lines[0] == ("Rolls **web** `apps/web` back to `0123456789ab` by reverting 2 commits:")
    assert lines[2] == (
        f"- [`{commit(2).sha[:7]}`](https://github.com/acme/manifests/commit/{commit(2).sha})"
        " second (Dev One)"
    )
    assert lines[3].endswith(" first (Dev One)")
    assert "Requested by <@U123> with `/rollback`." in lines
    assert "Slack thread: https://acme.slack.com/archives/C1/p17" in lines
    assert "Related pull request: https://github.com/acme/web/pull/7" in lines
    assert "restored" not in body


def test_long_lists_are_cut_and_restores_explained() -> None:
    request = RevertRequest(app="web", target_sha=TARGET)
    body = revert_body(request, [commit(n) for n in range(MAX_LISTED + 5)], strategy="restore")
    assert body.count("\n- `") == MAX_LISTED
    assert "… and 5 older commits" in body
    assert "restored to the target revision's content" in body
    assert "Requested by" not in body and "Slack thread" not in body
    one = revert_body(request, [commit(1)])
    assert "by reverting 1 commit:" in one and "**web** back" in one
