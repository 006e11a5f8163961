"""Render and compare time of the reconciler (issue 3), cold and warm caches.

Builds a temporary Git repository holding two apps, the corpus's ``sock-shop`` (Kustomize,
29 objects) and a synthetic plain-YAML app of 1,000 objects (ConfigMaps, Services and
Deployments), and a Kubernetes API emulator (``sandbox/kube``). Each app is deployed once
with server-side apply through ``reconciler.cluster.Cluster`` and left to settle (every
workload rolled out, nothing drifting), so comparisons pair every desired object with a live
one. Then, several repetitions each, it times:

- ``render cold``: ``ManifestLoader.load`` on a new loader (resolve, read the tree at the
  commit, render) over the shared, already cloned ``GitSource``;
- ``render warm``: ``load`` again on the same loader at the same commit; it must not render
  again (checked with ``render_count``). Both include the ``git fetch`` a poll makes;
- ``compare cold``: ``compare`` with a new ``DryRunCache`` (a dry-run apply per object);
- ``compare warm``: ``compare`` with the same cache and nothing changed; it must make no
  dry-run request (checked with the cache's miss count). Its search for the app's objects that
  left Git lists every kind the cluster serves (``Cluster.list_tracked``);
- ``compare warm, live cache``: the same through ``CachedReads`` over a ``LiveCache``, as the
  controller's refreshes run: after one full scan, that search reads the watch cache (checked:
  no further full scan).

The emulator runs in its own process by default, as a real API server would, so the client's
timings do not include the server's work competing for this interpreter's GIL;
``--in-process`` runs it on a thread of this process instead. ``--profile DIR`` writes a
cProfile file per (app, step) for finding hot spots.

Usage: ``python bench/render_compare.py [--repeat 5] [--objects 1000] [--profile DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cluster import Cluster
from reconciler.cluster_cached import CachedReads
from reconciler.cluster_watch import ClusterWatch
from reconciler.compare import compare
from reconciler.compare_types import DryRunCache
from reconciler.livecache import LiveCache
from reconciler.manifests import ManifestLoader
from reconciler.model import (
    SYNCED,
    Application,
    ApplicationSource,
    ApplicationSpec,
    Destination,
)
from reconciler.source import GitSource
from sandbox.kube import KubeEmulator

ROOT = Path(__file__).resolve().parent.parent
SOCK_SHOP = ROOT.parent / "shared" / "corpus" / "argocd-example-apps" / "sock-shop"
SETTLE_TIMEOUT = 300.0
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "kajitori bench",
    "GIT_AUTHOR_EMAIL": "bench@kajitori.invalid",
    "GIT_COMMITTER_NAME": "kajitori bench",
    "GIT_COMMITTER_EMAIL": "bench@kajitori.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Row:
    """One measured step of one app."""

    app: str
    objects: int
    step: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.seconds) * 1000


# -- the Git repository ----------------------------------------------------------------------


def _synthetic_component(index: int, namespace: str) -> str:
    """A Deployment, its Service and its ConfigMap, as one YAML file of three documents."""
    name = f"svc-{index:03d}"
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  namespace: {namespace}
  labels: {{app: {name}}}
data:
  LOG_LEVEL: info
  UPSTREAM: http://svc-{(index + 1) % 1000:03d}.{namespace}.svc:8080
  settings.json: '{{"workers": {index % 8 + 1}, "cache": true, "component": "{name}"}}'
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: {name}}}
spec:
  selector: {{app: {name}}}
  ports:
  - {{name: http, port: 8080, targetPort: http}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: app
        image: registry.example.com/bench/{name}:1.{index % 10}
        ports:
        - {{name: http, containerPort: 8080}}
        envFrom:
        - configMapRef: {{name: {name}-config}}
        resources:
          requests: {{cpu: 50m, memory: 64Mi}}
          limits: {{cpu: 200m, memory: 128Mi}}
"""


def _shared_configmaps(count: int, namespace: str) -> str:
    documents = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared-{i:03d}\n"
        f"  namespace: {namespace}\ndata:\n  key: value-{i}\n  feature: flag-{i % 7}\n"
        for i in range(count)
    ]
    return "---\n".join(documents)


def write_synthetic(folder: Path, objects: int, namespace: str) -> None:
    """``objects`` objects: one file of three (ConfigMap, Service, Deployment) per component
    for 90% of them, the rest plain ConfigMaps in one file (1,000 gives 300 components and
    100 shared ConfigMaps: 400 ConfigMaps, 300 Services, 300 Deployments)."""
    folder.mkdir(parents=True)
    components = objects * 9 // 10 // 3
    for index in range(components):
        (folder / f"svc-{index:03d}.yaml").write_text(_synthetic_component(index, namespace))
    rest = objects - 3 * components
    if rest:
        (folder / "shared-config.yaml").write_text(_shared_configmaps(rest, namespace))


def make_repository(root: Path, objects: int) -> Path:
    """A Git repository with ``sock-shop/`` and ``synthetic/``, one commit on main."""
    repo = root / "manifests"
    repo.mkdir()
    shutil.copytree(SOCK_SHOP, repo / "sock-shop")
    write_synthetic(repo / "synthetic", objects, "synthetic")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "bench manifests"],
    ):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)
    return repo


def application(name: str, repo: Path, path: str, namespace: str) -> Application:
    source = ApplicationSource(repo_url=str(repo), path=path, target_revision="main")
    return Application(name, ApplicationSpec(source, Destination(namespace=namespace)))


# -- the emulator ----------------------------------------------------------------------------


@contextlib.contextmanager
def emulator(kubeconfig: Path, time_factor: float, in_process: bool) -> Iterator[str]:
    """A Kubernetes API emulator on a free port, its kubeconfig at ``kubeconfig``; its URL."""
    if in_process:
        kube = KubeEmulator(time_factor=time_factor).start()
        try:
            kube.write_kubeconfig(kubeconfig)
            yield kube.url
        finally:
            kube.stop()
        return
    command = [sys.executable, "-m", "sandbox.kube", "--port", "0"]
    command += ["--kubeconfig", str(kubeconfig), "--time-factor", str(time_factor)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        while "kubeconfig written" not in process.stdout.readline():
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with status {process.returncode}")
        yield url
    finally:
        process.terminate()
        process.wait(10)


# -- deploying and measuring -----------------------------------------------------------------


def deploy(app: Application, objects: list[dict[str, Any]], cluster: Cluster) -> None:
    """Server-side apply the app's objects (namespace first), then wait until every workload
    is rolled out and a comparison with a warm cache makes no dry-run request."""
    namespace = app.spec.destination.namespace
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for resource in compare(app, objects, cluster).resources:
        if resource.desired is not None:
            cluster.apply(resource.desired, force=True)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    cache = DryRunCache()
    while time.monotonic() < deadline:
        result = compare(app, objects, cluster, cache=cache)
        misses = cache.misses
        if (result.health_status, result.sync_status) == ("Healthy", SYNCED):
            again = compare(app, objects, cluster, cache=cache)
            if again.sync_status == SYNCED and cache.misses == misses:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{app.name} did not become Synced, Healthy and quiet in time")


def timed(
    call: Callable[[], object], repeat: int, profile: Path | None, check: Callable[[], None]
) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls, each followed by ``check``; the calls are
    profiled into ``profile`` when given."""
    profiler = cProfile.Profile() if profile is not None else None
    seconds: list[float] = []
    for _ in range(repeat):
        if profiler is not None:
            profiler.enable()
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
        if profiler is not None:
            profiler.disable()
        check()
    if profiler is not None and profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile)
    return seconds


def measure_app(
    app: Application,
    git: GitSource,
    cluster: Cluster,
    repeat: int,
    profile_dir: Path | None,
) -> list[Row]:
    """Deploy ``app`` and time its four steps."""
    objects = list(ManifestLoader(git).load(app).objects)
    deploy(app, objects, cluster)
    count = len(objects)

    def where(step: str) -> Path | None:
        return profile_dir / f"{app.name}-{step}.pstats" if profile_dir is not None else None

    def must(condition: bool, what: str) -> None:
        if not condition:
            raise RuntimeError(f"{app.name}: {what}")

    # render cold: a new loader each time
    loaders: list[ManifestLoader] = []

    def render_cold() -> None:
        loaders.append(ManifestLoader(git))
        loaders[-1].load(app)

    cold_render = timed(
        render_cold,
        repeat,
        where("render-cold"),
        lambda: must(loaders[-1].render_count == 1, "a cold load did not render once"),
    )

    # render warm: the same loader, the same commit
    loader = ManifestLoader(git)
    loader.load(app)
    warm_render = timed(
        lambda: loader.load(app),
        repeat,
        where("render-warm"),
        lambda: must(loader.render_count == 1, "a warm load rendered again"),
    )

    # compare cold: a new dry-run cache each time
    results: list[tuple[str, DryRunCache]] = []

    def compare_cold() -> None:
        cache = DryRunCache()
        results.append((compare(app, objects, cluster, cache=cache).sync_status, cache))

    def cold_checks() -> None:
        status, cache = results[-1]
        must(status == SYNCED, f"a cold comparison said {status}")
        must(cache.misses >= count, "a cold comparison skipped dry-runs")

    cold_compare = timed(compare_cold, repeat, where("compare-cold"), cold_checks)

    # compare warm: the same cache, nothing changed
    cache = DryRunCache()
    compare(app, objects, cluster, cache=cache)
    misses = cache.misses
    statuses: list[str] = []

    def warm_checks() -> None:
        must(statuses[-1] == SYNCED, f"a warm comparison said {statuses[-1]}")
        must(cache.misses == misses, "a warm comparison made dry-run requests")

    warm_compare = timed(
        lambda: statuses.append(compare(app, objects, cluster, cache=cache).sync_status),
        repeat,
        where("compare-warm"),
        warm_checks,
    )
    cached_compare = _compare_over_live_cache(app, objects, cluster, cache, repeat, where, must)
    return [
        Row(app.name, count, "render cold", cold_render),
        Row(app.name, count, "render warm", warm_render),
        Row(app.name, count, "compare cold", cold_compare),
        Row(app.name, count, "compare warm", warm_compare),
        Row(app.name, count, "compare warm, live cache", cached_compare),
    ]


def _compare_over_live_cache(
    app: Application,
    objects: list[dict[str, Any]],
    cluster: Cluster,
    dry_runs: DryRunCache,
    repeat: int,
    where: Callable[[str], Path | None],
    must: Callable[[bool, str], None],
) -> list[float]:
    """Warm comparisons through ``CachedReads``, after its one full scan and the cache's
    first list of every kind found."""
    source = ClusterWatch(cluster)
    live = LiveCache(source)
    try:
        reads = CachedReads(cluster, live)
        for obj in objects:
            key_kind = str(obj["apiVersion"]).rpartition("/")[0], str(obj["kind"])
            live.watch(*key_kind)
        compare(app, objects, reads, cache=dry_runs)  # the full scan
        must(live.wait_synced(60), "the live cache did not sync")
        statuses: list[str] = []

        def checks() -> None:
            must(statuses[-1] == SYNCED, f"a cached comparison said {statuses[-1]}")
            must(reads.full_scans == 1, "a cached comparison scanned every kind again")

        return timed(
            lambda: statuses.append(compare(app, objects, reads, cache=dry_runs).sync_status),
            repeat,
            where("compare-warm-live-cache"),
            checks,
        )
    finally:
        live.stop()
        source.close()


# -- reporting -------------------------------------------------------------------------------


def _tool_version(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "absent"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


def table(rows: list[Row], repeat: int) -> str:
    lines = [
        "| app | objects | step | median ms | min ms | runs |",
        "|---|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.app} | {r.objects} | {r.step} | {r.median_ms:.1f} | {r.min_ms:.1f} | {repeat} |"
        for r in rows
    ]
    return "\n".join(lines)


def machine() -> str:
    kubectl = _tool_version("kubectl", "version", "--client")
    return (
        f"{os.cpu_count()} CPUs (nproc), Python {platform.python_version()} on "
        f"{platform.system()} {platform.release()} ({platform.machine()}); "
        f"{_tool_version('git', '--version')}; kubectl {kubectl}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each step")
    parser.add_argument(
        "--objects", type=int, default=1000, help="objects in the synthetic app (default 1000)"
    )
    parser.add_argument(
        "--time-factor",
        type=float,
        default=0.02,
        help="emulator controller delay factor (only speeds up settling; default 0.02)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run the emulator on a thread of this process"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="write cProfile stats per step to this folder"
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.objects < 3:
        parser.error("--repeat must be at least 1 and --objects at least 3")
    if not SOCK_SHOP.is_dir():
        parser.error(f"the sock-shop corpus is missing: {SOCK_SHOP}")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kajitori-bench-") as temp:
        root = Path(temp)
        repo = make_repository(root, args.objects)
        apps = [
            application("sock-shop", repo, "sock-shop", "sock-shop"),
            application("synthetic", repo, "synthetic", "synthetic"),
        ]
        git = GitSource(root / "cache")
        kubeconfig = root / "kubeconfig"
        try:
            with emulator(kubeconfig, args.time_factor, args.in_process):
                cluster = Cluster.from_kubeconfig(kubeconfig)
                try:
                    for app in apps:
                        rows += measure_app(app, git, cluster, args.repeat, args.profile)
                finally:
                    cluster.close()
        finally:
            git.close()

    where = "in this process" if args.in_process else "in its own process"
    print(table(rows, args.repeat))
    print()
    print(f"Machine: {machine()}.")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"Emulator {where}; load average {load} at the end; {datetime.date.today()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
