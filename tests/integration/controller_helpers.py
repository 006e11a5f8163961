"""A controller over the Kubernetes emulator and real local Git repositories, for the
controller's integration tests: a bare "remote" repository with a working clone to push
commits, a configuration file pointing at it, and a harness that builds the controller with
a live cache, an event recorder and its SQLite state file, and can restart it."""

from __future__ import annotations

import os
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from reconciler.cluster import Cluster
from reconciler.cluster_watch import ClusterWatch
from reconciler.config import Config, parse_config
from reconciler.controller import Controller
from reconciler.controller_api import ControllerAPI
from reconciler.events import Event, EventBus
from reconciler.github import GitHubClient
from reconciler.livecache import LiveCache
from reconciler.metrics import Metrics
from reconciler.source import GitSource
from reconciler.state import SQLiteStore

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Ada Author",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Author",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
T = TypeVar("T")
Obj = dict[str, Any]


class Remote:
    """A bare repository (the remote) and a working clone that pushes commits to it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.bare = root / "remote.git"
        self.work = root / "work"
        self.git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        self.git("init", "-q", "-b", "main", str(self.work), cwd=root)
        self.git("remote", "add", "origin", str(self.bare))

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.work, env=GIT_ENV, check=True, capture_output=True
        )
        return done.stdout.decode().strip()

    def commit(self, files: dict[str, list[Obj] | str | None], message: str) -> str:
        """Write each file as a multi-document YAML of ``objects`` (or as the text given;
        None deletes it), commit, push; the new SHA."""
        for name, objects in files.items():
            target = self.work / name
            if objects is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            text = objects if isinstance(objects, str) else yaml.safe_dump_all(objects)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return str(self.bare)


def app_yaml(
    name: str,
    remote: Remote,
    *,
    namespace: str,
    automated: dict[str, Any] | None = None,
    retry: dict[str, Any] | None = None,
    sync_options: list[str] | None = None,
    annotations: dict[str, str] | None = None,
) -> str:
    """An Application document for ``name`` (manifests under ``<name>/`` on main)."""
    spec: dict[str, Any] = {
        "source": {"repoURL": remote.url, "path": name, "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
    }
    policy: dict[str, Any] = {"syncOptions": sync_options or ["CreateNamespace=true"]}
    if automated is not None:
        policy["automated"] = automated
    if retry is not None:
        policy["retry"] = retry
    spec["syncPolicy"] = policy
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    document = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": meta,
        "spec": spec,
    }
    return yaml.safe_dump(document, sort_keys=False)


def config_of(apps: list[str], state: Path, *, interval: str = "30s", workers: int = 2) -> Config:
    return parse_config(config_text(apps, state, interval=interval, workers=workers), "test.yaml")


def config_text(apps: list[str], state: Path, *, interval: str = "30s", workers: int = 2) -> str:
    """A configuration file: the Application documents plus Settings with a short poll, no
    wave delay and the state file ``state``."""
    settings = textwrap.dedent(
        f"""\
        apiVersion: kajitori.dev/v1alpha1
        kind: Settings
        controller:
          reconciliationInterval: {interval}
          waveDelay: 0
          workers: {workers}
          statePath: {state}
        """
    )
    return "---\n".join([*apps, settings])


class Recorder:
    """Every published event, with a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: type[T], app: str | None = None) -> list[T]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind) and (app is None or e.app == app)]

    def wait_for(
        self, kind: type[T], predicate: Callable[[T], bool] = lambda e: True, timeout: float = 10
    ) -> T:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if isinstance(event, kind) and predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e.summary() for e in self.events]
                    raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {seen}")
                self._cond.wait(left)


class Harness:
    """A controller and everything around it; ``restart()`` builds a new one on the same
    state file (the old one stopped first), as a new process would."""

    def __init__(
        self, kubeconfig: Path, root: Path, config: Config, github: GitHubClient | None = None
    ) -> None:
        self.github = github  # handed to the controller (rollbacks open pull requests)
        self.kubeconfig = kubeconfig
        self.root = root
        self.config = config
        self.cluster = Cluster.from_kubeconfig(kubeconfig)
        self.watch_source = ClusterWatch(self.cluster)
        self.git = GitSource(root / "cache")
        self.recorder = Recorder()
        self.controller = self._build()

    def _build(self) -> Controller:
        self.events = EventBus()
        self.events.subscribe(self.recorder, "recorder")
        self.store = SQLiteStore(self.config.settings.controller.state_path)
        self.live_cache = LiveCache(self.watch_source, backoff_initial=0.05, backoff_max=0.5)
        self.metrics = Metrics()
        return Controller(
            self.config,
            cluster=self.cluster,
            git=self.git,
            store=self.store,
            events=self.events,
            metrics=self.metrics,
            live_cache=self.live_cache,
            poll_interval=0.05,
            github=self.github,
        )

    def start(self) -> Controller:
        self.controller.start()
        api: ControllerAPI = self.controller  # mypy checks the protocol is implemented
        assert api.app_names() == sorted(self.config.applications)
        return self.controller

    def stop(self) -> None:
        self.controller.stop(10)
        self.live_cache.stop()
        self.events.close()
        self.store.close()

    def restart(self) -> Controller:
        self.stop()
        self.controller = self._build()
        return self.start()

    def close(self) -> None:
        self.stop()
        self.watch_source.close()
        self.git.close()
        self.cluster.close()

    def wait(self, predicate: Callable[[], T | None], timeout: float = 10, what: str = "") -> T:
        """Poll ``predicate`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    def status(self, app: str) -> dict[str, Any]:
        return self.controller.app_status(app)

    def phase(self, app: str) -> str:
        operation = self.controller.operation(app) or {}
        return str(operation.get("phase", ""))

    def wait_phase(self, app: str, phase: str, timeout: float = 15, revision: str = "") -> Obj:
        def done() -> Obj | None:
            operation = self.controller.operation(app)
            if not operation or operation.get("phase") != phase:
                return None
            if revision and operation["syncResult"]["revision"] != revision:
                return None
            return operation

        return self.wait(done, timeout, f"{app} operation {phase} {revision[:7]}")

    def wait_synced(self, app: str, revision: str, timeout: float = 15) -> Obj:
        def done() -> Obj | None:
            status = self.status(app)["status"]
            sync = status["sync"]
            ok = sync["status"] == "Synced" and sync["revision"] == revision
            return status if ok else None

        return self.wait(done, timeout, f"{app} Synced at {revision[:7]}")


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str, **data: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 1) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def hook_job(name: str, phase: str, *command: str) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "annotations": {
                "argocd.argoproj.io/hook": phase,
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            },
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": list(command)}],
                }
            },
        },
    }


def writes(kube: Any, kind: str, verb: str = "", name: str = "") -> list[dict[str, Any]]:
    """The emulator's audit records of real writes of ``kind`` (and ``verb``, ``name``)."""
    return [
        entry
        for entry in kube.audit_log()
        if not entry.get("dryRun")
        and entry["kind"] == kind
        and (not verb or entry["verb"] == verb)
        and (not name or entry["name"] == name)
    ]


def created(kube: Any, kind: str, name: str = "") -> list[dict[str, Any]]:
    """The emulator's audit records of objects of ``kind`` (named ``name``) created."""
    return [entry for entry in writes(kube, kind, name=name) if entry["code"] == 201]


def serve(kubeconfig: str, root: str, config_path: str) -> None:
    """Run a controller until the process is killed (``python -c`` entry point for the
    tests that kill a controller process with SIGKILL)."""
    from reconciler.config import load_config

    harness = Harness(Path(kubeconfig), Path(root), load_config(config_path))
    harness.start()
    while True:
        time.sleep(1)
