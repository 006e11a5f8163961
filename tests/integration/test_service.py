"""`kajitori run` assembled: the service built by ``build_service`` against the Kubernetes
emulator, a bare Git repository served by the GitHub sandbox (which delivers real signed push
webhooks) and real HTTP clients; and `kajitori run` itself as a subprocess stopped by SIGTERM."""

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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from reconciler.config import Config, load_config
from reconciler.event_types import Event
from reconciler.service import Service, build_service
from reconciler.state import SQLiteStore, in_flight
from sandbox.github import GitHubSandbox
from tests.integration.sync_helpers import writes

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from sandbox.kube import KubeEmulator

HOOK_SECRET = "hook-secret-Zq81"
TOKEN = "refresh-token-Xk42-do-not-log"
APP = "guestbook"
NAMESPACE = "guestbook"

CONFIG = """\
apiVersion: kajitori.dev/v1alpha1
kind: Settings
controller:
  reconciliationInterval: 1h
  waveDelay: 0s
server:
  host: 127.0.0.1
  port: 0
  webhookSecret: {{env: KAJITORI_TEST_HOOK_SECRET}}
  refreshToken: {{env: KAJITORI_TEST_REFRESH_TOKEN}}
logging:
  level: info
  format: {log_format}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
spec:
  project: default
  source:
    repoURL: {repo}
    path: guestbook
    targetRevision: main
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated: {{prune: true}}
    syncOptions: [CreateNamespace=true]
"""

ENV = {"KAJITORI_TEST_HOOK_SECRET": HOOK_SECRET, "KAJITORI_TEST_REFRESH_TOKEN": TOKEN}


def configmap(colour: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: {colour}\n"
    )


def eventually(check: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """``check()``'s first truthy value within ``timeout`` seconds (AssertionError after)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(interval)


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    body = b"" if method == "POST" else None
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def colour_in_cluster(api: ApiClient) -> str | None:
    """The ``colour`` of the app's ConfigMap as the API server has it (None when absent)."""
    try:
        found = client.CoreV1Api(api).read_namespaced_config_map("settings", NAMESPACE)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return str((found.data or {}).get("colour"))


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(tmp_path / "github") as sandbox:
        sandbox.create_repo("acme", "manifests", files={"guestbook/cm.yaml": configmap("blue")})
        yield sandbox


def write_config(tmp_path: Path, github: GitHubSandbox, log_format: str = "text") -> Path:
    repo = github.repo_path("acme", "manifests").as_uri()
    path = tmp_path / "conf" / "kajitori.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG.format(repo=repo, log_format=log_format))
    return path


@pytest.fixture
def config(tmp_path: Path, github: GitHubSandbox) -> Config:
    return load_config(write_config(tmp_path, github), env=ENV)


@pytest.fixture
def running(config: Config, kubeconfig: Path, kube_api: ApiClient) -> Iterator[Service]:
    """The service started, its first auto-sync applied."""
    service = build_service(config, env={}, kubeconfig=kubeconfig).start()
    try:
        eventually(lambda: colour_in_cluster(kube_api) == "blue", 20)
        yield service
    finally:
        service.stop()


def test_probes_metrics_and_the_first_sync(running: Service) -> None:
    url = running.url
    assert http(url + "/healthz") == (200, b"ok\n")
    eventually(lambda: http(url + "/readyz")[0] == 200, 10)

    def info() -> dict[str, str] | None:
        scrape = http(url + "/metrics")[1].decode()
        for family in text_string_to_metric_families(scrape):
            for sample in family.samples:
                if sample.name == "kajitori_app_info" and sample.labels["name"] == APP:
                    return sample.labels
        return None

    labels = eventually(
        lambda: (found := info()) and found["sync_status"] == "Synced" and found, 10
    )
    assert labels["dest_namespace"] == NAMESPACE and labels["autosync_enabled"] == "true"
    running.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/healthz", timeout=2)


def test_a_signed_push_is_applied_within_two_seconds(
    running: Service, github: GitHubSandbox, kube_api: ApiClient
) -> None:
    github.configure_webhook(running.url + "/api/webhook/github", HOOK_SECRET)
    started = time.monotonic()
    github.commit_files(
        "acme", "manifests", "main", {"guestbook/cm.yaml": configmap("green")}, "green"
    )
    eventually(lambda: colour_in_cluster(kube_api) == "green", 2.0, interval=0.02)
    elapsed = time.monotonic() - started
    [delivery] = github.wait_for_deliveries(1)
    assert delivery["status"] == 202
    assert elapsed < 2.0


def test_a_bad_signature_changes_nothing_and_the_refresh_api_needs_its_token(
    running: Service, github: GitHubSandbox, kube: KubeEmulator, kube_api: ApiClient
) -> None:
    time.sleep(0.5)  # let the first sync's health checks settle
    before = len(writes(kube))
    github.configure_webhook(running.url + "/api/webhook/github", "not-the-secret")
    github.commit_files("acme", "manifests", "main", {"guestbook/cm.yaml": configmap("red")}, "red")
    [delivery] = github.wait_for_deliveries(1)
    assert delivery["status"] == 401
    time.sleep(1.0)
    assert len(writes(kube)) == before
    assert colour_in_cluster(kube_api) == "blue"

    refresh = running.url + f"/api/refresh/{APP}"
    assert http(refresh, "POST")[0] == 401
    assert http(refresh, "POST", {"Authorization": "Bearer wrong"})[0] == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert http(running.url + "/api/refresh/nope", "POST", good)[0] == 404
    assert colour_in_cluster(kube_api) == "blue" and len(writes(kube)) == before
    status, body = http(refresh, "POST", good)
    assert status == 202 and json.loads(body) == {"app": APP, "refresh": "requested"}
    eventually(lambda: colour_in_cluster(kube_api) == "red", 5)


def test_notifier_and_mount_hooks(config: Config, kubeconfig: Path) -> None:
    seen: list[Event] = []

    def slack_endpoint(environ: WSGIEnvironment, start: StartResponse) -> Iterable[bytes]:
        start("200 OK", [("Content-Type", "text/plain")])
        return [f"slack saw {environ['PATH_INFO']}".encode()]

    service = build_service(
        config,
        env={},
        kubeconfig=kubeconfig,
        notifiers=[seen.append],
        mounts={"/slack": slack_endpoint},
    )
    with service:
        assert service.headless is None  # a notifier is plugged in: nothing logged instead
        assert http(service.url + "/slack/events", "POST") == (200, b"slack saw /slack/events")
        eventually(lambda: any(e.type == "SyncSucceeded" and e.app == APP for e in seen), 20)


def test_a_stop_signal_wakes_wait_and_its_handler_takes_no_lock(
    config: Config, kubeconfig: Path
) -> None:
    """A signal handler runs on the main thread between two bytecodes, possibly while that
    thread holds the lock inside the service's wake-up Event (wait() does); a handler that
    takes that lock hangs the process for good, and Ctrl-C then does nothing."""
    service = build_service(config, env={}, kubeconfig=kubeconfig)
    try:
        with service.stop_signals():
            handler = signal.getsignal(signal.SIGINT)
            assert callable(handler)
            with service._wake._cond:  # what Event.wait holds while it reads its flag
                call = threading.Thread(target=handler, args=(signal.SIGINT, None))
                call.start()
                call.join(2)
                assert not call.is_alive(), "the handler waited for a lock"
            assert service.wait(5) == signal.SIGINT
        service._signal = None
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        assert service.wait(10) == signal.SIGTERM
        assert time.monotonic() - started < 2
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    finally:
        service.stop()


def test_a_taken_port_fails_start(config: Config, kubeconfig: Path, running: Service) -> None:
    second = build_service(config, env={}, kubeconfig=kubeconfig, port=running.port)
    with pytest.raises(OSError):
        second.start()
    second.stop()
    assert http(running.url + "/healthz")[0] == 200


PRESYNC_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: busybox, command: [sleep, "40"]}
"""


def job_creations(kube: KubeEmulator) -> list[str]:
    return [w["name"] for w in writes(kube) if w["kind"] == "Job" and w["code"] == 201]


def test_stop_during_a_hook_persists_the_operation_and_a_restart_resumes_it(
    config: Config,
    kubeconfig: Path,
    github: GitHubSandbox,
    kube: KubeEmulator,
    kube_api: ApiClient,
) -> None:
    """The PreSync Job sleeps 40 s at the emulator's time factor (2 s): the service is stopped
    while it runs, the operation stays saved as running, and a new service finishes it
    without a second Job."""
    files = {"guestbook/job.yaml": PRESYNC_JOB}
    github.commit_files("acme", "manifests", "main", files, "migrate first")
    first = build_service(config, env={}, kubeconfig=kubeconfig).start()
    try:
        eventually(lambda: job_creations(kube), 20)
    finally:
        first.stop()
    assert colour_in_cluster(kube_api) is None  # the ConfigMap waits for the hook
    with SQLiteStore(config.settings.controller.state_path) as store:
        saved = store.operation(APP)
    assert saved is not None and in_flight(saved)

    with build_service(config, env={}, kubeconfig=kubeconfig) as second:
        eventually(lambda: colour_in_cluster(kube_api) == "blue", 20)

        def phase() -> str:
            operation = second.controller.operation(APP)
            return "" if operation is None else str(operation.get("phase"))

        eventually(lambda: phase() == "Succeeded", 10)
    assert len(job_creations(kube)) == 1


# -- `kajitori run` as a process -----------------------------------------------------------


class Output:
    """Collects a stream's lines on a thread of its own."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(10)

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            try:
                found.append(json.loads(line))
            except ValueError:
                found.append({"message": line, "unparsed": True})
        return found


def test_kajitori_run_serves_logs_headless_and_stops_on_sigterm(
    tmp_path: Path, github: GitHubSandbox, kubeconfig: Path, kube_api: ApiClient
) -> None:
    path = write_config(tmp_path, github, log_format="json")
    command = [sys.executable, "-m", "reconciler.cli", "run", "-c", str(path)]
    command += ["--kubeconfig", str(kubeconfig), "--port", "0"]
    env = {**os.environ, **ENV}
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    out, err = Output(process.stdout), Output(process.stderr)
    try:

        def url() -> str | None:
            for record in err.records():
                match = re.search(r"HTTP (http://[\d.]+:\d+)", str(record.get("message")))
                if match:
                    return match.group(1)
            return None

        base = eventually(url, 30)
        eventually(lambda: http(base + "/readyz")[0] == 200, 10)
        eventually(lambda: colour_in_cluster(kube_api) == "blue", 20)
        assert http(base + f"/api/refresh/{APP}", "POST", {"Authorization": "Bearer x"})[0] == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert http(base + f"/api/refresh/{APP}", "POST", good)[0] == 202

        def notified() -> bool:
            return any(
                r.get("logger") == "kajitori.notifications"
                and r.get("event") == "SyncSucceeded"
                and r.get("app") == APP
                for r in err.records()
            )

        eventually(notified, 10)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        out.join()
        err.join()
    records = err.records()
    unparsed = [r["message"] for r in records if r.get("unparsed")]
    assert not unparsed, unparsed  # every line is one JSON object
    messages = [str(r.get("message")) for r in records]
    assert any(m.startswith("would notify: app guestbook: sync to") for m in messages)
    assert "received SIGTERM" in messages and messages[-1] == "stopped"
    everything = "\n".join(out.lines + err.lines)
    assert TOKEN not in everything and HOOK_SECRET not in everything


def test_kajitori_run_reports_configuration_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: kajitori.dev/v1alpha1\nkind: Settings\nserver: {port: 99999}\n")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "server.port: must be at most 65535, got 99999" in done.stderr
    assert done.stderr.strip().endswith("1 problem(s) found")
