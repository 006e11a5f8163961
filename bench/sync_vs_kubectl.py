"""Sync wall time of kajitori versus ``kubectl apply --server-side`` of the same objects
against the same Kubernetes API emulator (issue 4's benchmark).

Two apps: the corpus's ``sock-shop`` (29 objects: 14 Deployments, 14 Services, an Ingress) and
a synthetic app of 1,000 objects (400 ConfigMaps, 300 Services, 300 Deployments). For each
app the contenders run in turn, alternating, each into a new empty namespace created
beforehand (and deleted afterwards, outside the timing, so the cluster does not grow):

- ``kubectl``: ``kubectl apply --server-side -n NS -f app.yaml`` as a process;
- ``kajitori engine``: ``SyncOperation.start(...).run()`` in this process with a new
  ``Cluster`` (so API discovery is included): inventory of the cluster (live objects and the
  cluster-wide scan for tracked objects to prune), a server-side dry-run of every object,
  then the server-side applies on a pool of 8 threads, until the operation Succeeded;
- ``kajitori CLI``: ``kajitori sync APP -c FILE`` as a process: Python start-up, loading the
  configuration, ``git fetch`` and rendering of a plain-YAML directory, the state store,
  and the engine as above.

The emulator runs in its own process (simulated controllers running), as a real API server
would, so no contender's timing includes the server's work competing for its interpreter.
The median (and the minimum) of ``--repeat`` runs is reported.

Usage: ``python bench/sync_vs_kubectl.py [--repeat 5] [--objects 1000] [--no-cli]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from reconciler.cluster import Cluster
from reconciler.model import (
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
    ResourceKey,
)
from reconciler.sync import SyncOperation

ROOT = Path(__file__).resolve().parent.parent
SOCK_SHOP = ROOT.parent / "shared" / "corpus" / "argocd-example-apps" / "sock-shop" / "base"
KAJITORI = Path(sys.executable).with_name("kajitori")
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "kajitori bench",
    "GIT_AUTHOR_EMAIL": "bench@kajitori.invalid",
    "GIT_COMMITTER_NAME": "kajitori bench",
    "GIT_COMMITTER_EMAIL": "bench@kajitori.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
Obj = dict[str, Any]
SLUGS = {"kubectl": "kubectl", "kajitori engine": "engine", "kajitori CLI": "cli"}


@dataclass
class Row:
    app: str
    objects: int
    contender: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# -- the apps --------------------------------------------------------------------------------


def sock_shop() -> list[Obj]:
    return [
        doc
        for path in sorted(SOCK_SHOP.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def synthetic(objects: int) -> list[Obj]:
    """``objects`` objects: a ConfigMap, a Service and a Deployment per component for 90% of
    them, the rest plain ConfigMaps (1,000: 400 ConfigMaps, 300 Services, 300 Deployments)."""
    result: list[Obj] = []
    components = objects * 9 // 10 // 3
    for index in range(components):
        name = f"svc-{index:03d}"
        labels = {"app": name}
        result.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{name}-config", "labels": labels},
                "data": {"LOG_LEVEL": "info", "WORKERS": str(index % 8 + 1)},
            }
        )
        result.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "labels": labels},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080}]},
            }
        )
        container = {
            "name": "app",
            "image": f"registry.example.com/bench/{name}:1.{index % 10}",
            "ports": [{"name": "http", "containerPort": 8080}],
            "envFrom": [{"configMapRef": {"name": f"{name}-config"}}],
        }
        result.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [container]},
                    },
                },
            }
        )
    for index in range(objects - 3 * components):
        result.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"shared-{index:03d}"},
                "data": {"key": f"value-{index}"},
            }
        )
    return result


def application(path: str, namespace: str, repo: Path) -> Application:
    """The app syncing folder ``path`` into ``namespace``, named after the namespace."""
    return Application(
        namespace,
        ApplicationSpec(
            source=ApplicationSource(repo_url=str(repo), path=path),
            destination=Destination(namespace=namespace),
        ),
    )


# -- the emulator, the repository and the configuration --------------------------------------


@contextlib.contextmanager
def emulator(kubeconfig: Path) -> Iterator[None]:
    """The emulator in its own process, its kubeconfig written to ``kubeconfig``."""
    command = [sys.executable, "-m", "sandbox.kube", "--port", "0", "--kubeconfig", str(kubeconfig)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        while "kubeconfig written" not in process.stdout.readline():
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with status {process.returncode}")
        yield
    finally:
        process.terminate()
        process.wait(10)


def repository(root: Path, apps: dict[str, list[Obj]]) -> Path:
    """A Git repository with one folder of plain YAML per app."""
    repo = root / "manifests"
    for name, objects in apps.items():
        folder = repo / name
        folder.mkdir(parents=True)
        (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    return repo


def configuration(root: Path, repo: Path, apps: list[tuple[str, str]]) -> Path:
    """A kajitori configuration with one Application per (app, namespace)."""
    documents: list[Obj] = [
        {
            "apiVersion": "kajitori.dev/v1alpha1",
            "kind": "Settings",
            "controller": {
                "cacheDir": str(root / "cache"),
                "statePath": str(root / "state.db"),
                "waveDelay": "0s",
            },
        }
    ]
    for path, namespace in apps:
        documents.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": namespace},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": str(repo), "path": path, "targetRevision": "main"},
                    "destination": {
                        "server": "https://kubernetes.default.svc",
                        "namespace": namespace,
                    },
                },
            }
        )
    config = root / "kajitori.yaml"
    config.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return config


# -- the contenders --------------------------------------------------------------------------


def run_kubectl(kubeconfig: Path, manifest: Path, namespace: str) -> None:
    command = ["kubectl", "--kubeconfig", str(kubeconfig), "apply", "--server-side"]
    subprocess.run(
        [*command, "-n", namespace, "-f", str(manifest)], check=True, stdout=subprocess.DEVNULL
    )


def run_engine(kubeconfig: Path, app: Application, objects: list[Obj]) -> None:
    cluster = Cluster.from_kubeconfig(kubeconfig)
    try:
        operation = SyncOperation.start(app, objects, cluster, revision="0" * 40, wave_delay=0)
        state = operation.run(poll_interval=0.05, timeout=600)
    finally:
        cluster.close()
    if state["phase"] != "Succeeded":
        raise RuntimeError(f"kajitori sync of {app.name}: {state['phase']}: {state['message']}")


def run_cli(kubeconfig: Path, config: Path, name: str) -> None:
    command = [str(KAJITORI), "sync", name, "-c", str(config), "--kubeconfig", str(kubeconfig)]
    subprocess.run([*command, "--poll-interval", "0.05"], check=True, stdout=subprocess.DEVNULL)


def contenders_for(
    name: str, objects: list[Obj], manifest: Path, kubeconfig: Path, repo: Path
) -> dict[str, Callable[[str], None]]:
    """kubectl and the engine, each taking the namespace to sync into."""

    def kubectl(namespace: str) -> None:
        run_kubectl(kubeconfig, manifest, namespace)

    def engine(namespace: str) -> None:
        run_engine(kubeconfig, application(name, namespace, repo), objects)

    return {"kubectl": kubectl, "kajitori engine": engine}


def fresh_namespace(cluster: Cluster, namespace: str) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


def remove_namespace(cluster: Cluster, namespace: str) -> None:
    key = ResourceKey("", "Namespace", "", namespace)
    cluster.delete(key, propagation="Background")
    deadline = time.monotonic() + 120
    while cluster.get(key) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"namespace {namespace} was not deleted in time")
        time.sleep(0.1)


def count_objects(cluster: Cluster, namespace: str, objects: list[Obj]) -> int:
    kinds = {(str(o["apiVersion"]).rpartition("/")[0], str(o["kind"])) for o in objects}
    return sum(len(cluster.list(group, kind, namespace)) for group, kind in kinds)


# -- measuring -------------------------------------------------------------------------------


def measure(
    name: str,
    objects: list[Obj],
    repeat: int,
    kubeconfig: Path,
    contenders: dict[str, Callable[[str], None]],
    admin: Cluster,
) -> list[Row]:
    rows = {contender: Row(name, len(objects), contender) for contender in contenders}
    for run in range(repeat):
        for contender, call in contenders.items():
            namespace = f"{name}-{SLUGS[contender]}-{run}"
            fresh_namespace(admin, namespace)
            began = time.perf_counter()
            call(namespace)
            rows[contender].seconds.append(time.perf_counter() - began)
            found = count_objects(admin, namespace, objects)
            if found != len(objects):
                raise RuntimeError(
                    f"{contender} left {found} of {len(objects)} objects in {namespace}"
                )
            remove_namespace(admin, namespace)
            print(
                f"{name} {contender} run {run + 1}: {rows[contender].seconds[-1]:.2f} s",
                file=sys.stderr,
            )
    return list(rows.values())


def table(rows: list[Row]) -> str:
    lines = [
        "| app | objects | contender | median s | min s | runs | vs kubectl |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    baseline = {r.app: r.median for r in rows if r.contender == "kubectl"}
    for r in rows:
        ratio = baseline[r.app] / r.median if r.median else 0.0
        lines.append(
            f"| {r.app} | {r.objects} | {r.contender} | {r.median:.2f} | {min(r.seconds):.2f} "
            f"| {len(r.seconds)} | {ratio:.1f}x |"
        )
    return "\n".join(lines)


def machine() -> str:
    kubectl = subprocess.run(
        ["kubectl", "version", "--client"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()} on {platform.system()} "
        f"{platform.release()}; kubectl {kubectl[0] if kubectl else 'unknown'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per contender and app")
    parser.add_argument("--objects", type=int, default=1000, help="objects of the synthetic app")
    parser.add_argument(
        "--no-cli", action="store_true", help="leave out the `kajitori sync` process"
    )
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        parser.error("kubectl is not on PATH")
    apps = {"sock-shop": sock_shop(), "synthetic": synthetic(args.objects)}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kajitori-sync-bench-") as temp:
        root = Path(temp)
        repo = repository(root, apps)
        names = [(app, f"{app}-cli-{run}") for app in apps for run in range(args.repeat)]
        config = configuration(root, repo, names)
        kubeconfig = root / "kubeconfig"
        with emulator(kubeconfig):
            admin = Cluster.from_kubeconfig(kubeconfig)
            try:
                for name, objects in apps.items():
                    manifest = root / f"{name}.yaml"
                    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
                    contenders = contenders_for(name, objects, manifest, kubeconfig, repo)
                    if not args.no_cli:
                        contenders["kajitori CLI"] = partial(run_cli, kubeconfig, config)
                    rows += measure(name, objects, args.repeat, kubeconfig, contenders, admin)
            finally:
                admin.close()
    print(machine())
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
