"""reconciler.http on a real waitress server over real HTTP: probes, the metrics scrape,
GitHub webhooks (good and bad signatures, also delivered by the GitHub sandbox), the bearer
protected refresh API and a mounted WSGI application."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.http import HttpApi, HttpServer
from reconciler.metrics import Metrics
from reconciler.model import Application, ApplicationSource, ApplicationSpec, Destination
from reconciler.settings import Secret
from reconciler.webhooks import PushEvent, apps_for_push, sign
from sandbox.github import GitHubSandbox

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRET = "webhook-secret"
TOKEN = "refresh-token"


@dataclass
class Controller:
    """Stands in for the controller: records what the HTTP layer asked of it."""

    apps: list[Application] = field(default_factory=list)
    pushes: list[PushEvent] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    ready: bool = False
    seen: threading.Event = field(default_factory=threading.Event)

    def on_push(self, event: PushEvent) -> list[str]:
        self.pushes.append(event)
        names = [app.name for app in apps_for_push(self.apps, event)]
        self.refreshed.extend(names)
        self.seen.set()
        return names

    def on_refresh(self, app: str) -> None:
        self.refreshed.append(app)

    def exists(self, app: str) -> bool:
        return any(a.name == app for a in self.apps)


def application(name: str, repo: str, revision: str = "HEAD") -> Application:
    return Application(
        name=name,
        spec=ApplicationSpec(
            source=ApplicationSource(repo_url=repo, path=".", target_revision=revision),
            destination=Destination(namespace="default"),
        ),
    )


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


@dataclass
class Reply:
    """A response; header names in lower case."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return Reply(response.status, _lower(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, _lower(error.headers.items()), error.read())


@pytest.fixture
def controller() -> Controller:
    return Controller(apps=[application("guestbook", "https://github.com/acme/manifests.git")])


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def serve() -> Iterator[Callable[[HttpApi], HttpServer]]:
    servers: list[HttpServer] = []

    def start(api: HttpApi) -> HttpServer:
        server = HttpServer(api, "127.0.0.1", 0, threads=2).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(
    controller: Controller, metrics: Metrics, serve: Callable[[HttpApi], HttpServer]
) -> HttpServer:
    api = HttpApi(
        metrics=metrics,
        ready=lambda: controller.ready,
        webhook_secret=Secret(SECRET),
        on_push=controller.on_push,
        refresh_token=Secret(TOKEN),
        on_refresh=controller.on_refresh,
        app_exists=controller.exists,
    )
    return serve(api)


def push_body(ref: str = "refs/heads/main") -> bytes:
    return json.dumps(
        {
            "ref": ref,
            "before": "b" * 40,
            "after": "a" * 40,
            "repository": {
                "full_name": "acme/manifests",
                "clone_url": "https://github.com/acme/manifests.git",
                "ssh_url": "git@github.com:acme/manifests.git",
                "default_branch": "main",
            },
            "commits": [{"id": "a" * 40, "modified": ["deploy.yaml"]}],
        }
    ).encode()


def github_headers(body: bytes, secret: str | None = SECRET, event: str = "push") -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return headers


def test_probes(server: HttpServer, controller: Controller) -> None:
    assert request(server.url + "/healthz").status == 200
    assert request(server.url + "/readyz").status == 503
    controller.ready = True
    assert request(server.url + "/readyz").status == 200
    assert request(server.url + "/healthz", "POST", b"").status == 405
    assert request(server.url + "/nope").status == 404


def test_a_readiness_check_that_raises_means_not_ready(
    serve: Callable[[HttpApi], HttpServer],
) -> None:
    def broken() -> bool:
        raise RuntimeError("state store closed")

    server = serve(HttpApi(ready=broken))
    assert request(server.url + "/readyz").status == 503
    assert request(server.url + "/healthz").status == 200


def test_signed_push_refreshes_the_watching_apps(
    server: HttpServer, controller: Controller
) -> None:
    body = push_body()
    reply = request(server.url + "/api/webhook/github", "POST", body, github_headers(body))
    assert reply.status == 202
    assert reply.json()["refreshed"] == ["guestbook"]
    assert controller.pushes[0].after == "a" * 40
    body = push_body("refs/heads/feature")
    reply = request(server.url + "/api/webhook/github", "POST", body, github_headers(body))
    assert reply.status == 202 and reply.json()["refreshed"] == []


@pytest.mark.parametrize(
    "headers",
    [
        github_headers(b"{not json", secret="wrong secret"),
        github_headers(b"{not json", secret=None),
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha1=abc"},
    ],
    ids=["wrong-secret", "no-signature", "zero-digest", "sha1"],
)
def test_a_bad_signature_is_401_before_the_body_is_parsed(
    server: HttpServer, controller: Controller, metrics: Metrics, headers: dict[str, str]
) -> None:
    # the body is not even JSON: a 401 rather than a 400 proves it was never parsed
    reply = request(server.url + "/api/webhook/github", "POST", b"{not json", headers)
    assert reply.status == 401
    assert controller.pushes == [] and controller.refreshed == []
    scrape = request(server.url + "/metrics").body.decode()
    assert 'kajitori_webhook_requests_total{event="push",result="unauthorized"} 1.0' in scrape


def test_other_github_events(server: HttpServer, controller: Controller) -> None:
    ping = b'{"zen": "Design for failure."}'
    reply = request(
        server.url + "/api/webhook/github", "POST", ping, github_headers(ping, event="ping")
    )
    assert (reply.status, reply.json()) == (200, {"ok": "pong"})
    issue = b'{"action": "opened"}'
    headers = github_headers(issue, event="issues")
    assert request(server.url + "/api/webhook/github", "POST", issue, headers).status == 202
    bad = b"[1, 2]"
    assert (
        request(server.url + "/api/webhook/github", "POST", bad, github_headers(bad)).status == 400
    )
    assert request(server.url + "/api/webhook/github").status == 405
    assert controller.pushes == []


def test_webhook_and_refresh_are_off_without_secrets(
    serve: Callable[[HttpApi], HttpServer], controller: Controller
) -> None:
    server = serve(HttpApi(on_push=controller.on_push, on_refresh=controller.on_refresh))
    body = push_body()
    reply = request(server.url + "/api/webhook/github", "POST", body, github_headers(body))
    assert reply.status == 404
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert request(server.url + "/api/refresh/guestbook", "POST", b"", headers).status == 404
    assert controller.pushes == [] and controller.refreshed == []


def test_refresh_needs_the_bearer_token(server: HttpServer, controller: Controller) -> None:
    url = server.url + "/api/refresh/guestbook"
    missing = request(url, "POST", b"")
    assert missing.status == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert request(url, "POST", b"", {"Authorization": "Bearer nope"}).status == 401
    assert request(url, "POST", b"", {"Authorization": f"Basic {TOKEN}"}).status == 401
    assert controller.refreshed == []
    good = {"Authorization": f"Bearer {TOKEN}"}
    unknown = request(server.url + "/api/refresh/nope", "POST", b"", good)
    assert unknown.status == 404 and "unknown app 'nope'" in unknown.json()["error"]
    reply = request(url, "POST", b"", good)
    assert (reply.status, reply.json()) == (202, {"app": "guestbook", "refresh": "requested"})
    assert controller.refreshed == ["guestbook"]
    assert request(url, "GET", None, good).status == 405


def test_metrics_scrape_parses(server: HttpServer, metrics: Metrics) -> None:
    metrics.set_app_info(
        application("guestbook", "https://github.com/acme/manifests.git"), "Synced", "Healthy"
    )
    metrics.record_reconcile(application("guestbook", "x"), 0.3)
    reply = request(server.url + "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(reply.body.decode())}
    [info] = families["kajitori_app_info"].samples
    assert info.labels["sync_status"] == "Synced" and info.value == 1.0
    assert families["kajitori_app_reconcile"].type == "histogram"
    openmetrics = request(
        server.url + "/metrics", headers={"Accept": "application/openmetrics-text"}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")


def test_a_failing_handler_is_500_and_the_server_carries_on(
    serve: Callable[[HttpApi], HttpServer],
) -> None:
    def explode(event: PushEvent) -> Iterable[str]:
        raise RuntimeError("controller broke")

    server = serve(HttpApi(webhook_secret=SECRET, on_push=explode))
    body = push_body()
    reply = request(server.url + "/api/webhook/github", "POST", body, github_headers(body))
    assert reply.status == 500 and "controller broke" not in reply.body.decode()
    assert request(server.url + "/healthz").status == 200


def test_mounted_applications(serve: Callable[[HttpApi], HttpServer]) -> None:
    def echo(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        data = {"script": environ["SCRIPT_NAME"], "path": environ["PATH_INFO"]}
        return [json.dumps(data).encode()]

    api = HttpApi()
    api.mount("/slack", echo, strip_prefix=False)  # slack_bolt compares the full path
    api.mount("/tools/", echo)
    server = serve(api)
    assert request(server.url + "/slack/events", "POST", b"{}").json() == {
        "script": "",
        "path": "/slack/events",
    }
    assert request(server.url + "/tools/a/b").json() == {"script": "/tools", "path": "/a/b"}
    assert request(server.url + "/slackish").status == 404
    with pytest.raises(ValueError):
        api.mount("/", echo)


def test_pushes_delivered_by_the_github_sandbox(
    tmp_path: Path, serve: Callable[[HttpApi], HttpServer]
) -> None:
    """The GitHub sandbox signs with its own HMAC code; a push to main refreshes the app that
    follows main in that repository, and a sandbox with the wrong secret is refused."""
    controller = Controller()
    server = serve(HttpApi(webhook_secret=Secret(SECRET), on_push=controller.on_push))
    hook = server.url + "/api/webhook/github"
    with GitHubSandbox(tmp_path / "gh", webhook_url=hook, webhook_secret=SECRET) as github:
        path = github.create_repo("acme", "manifests", files={"cm.yaml": "kind: ConfigMap\n"})
        controller.apps = [
            application("follows-main", path.as_uri()),
            application("follows-dev", str(path), revision="dev"),
            application("other-repo", "https://github.com/acme/other.git"),
        ]
        github.commit_files("acme", "manifests", "main", {"cm.yaml": "kind: Secret\n"}, "edit")
        [delivery] = github.wait_for_deliveries(1)
        assert delivery["status"] == 202
        assert controller.refreshed == ["follows-main"]
        assert controller.pushes[0].changed_files == frozenset({"cm.yaml"})

        github.configure_webhook(hook, "not the secret")
        github.commit_files("acme", "manifests", "dev", {"x.yaml": "a: 1\n"}, "dev work")
        deliveries = github.wait_for_deliveries(2)
        assert deliveries[-1]["status"] == 401
        assert controller.refreshed == ["follows-main"]


def test_server_stops_and_frees_its_port(serve: Callable[[HttpApi], HttpServer]) -> None:
    server = serve(HttpApi())
    url = server.url
    assert request(url + "/healthz").status == 200
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/healthz", timeout=2)
    assert not any(t.name.startswith("http-") and t.is_alive() for t in threading.enumerate())
