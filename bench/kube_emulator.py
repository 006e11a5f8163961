"""Requests per second of the Kubernetes API emulator (sandbox/kube).

Starts the emulator in its own process (``python -m sandbox.kube``), then drives it from this
process with persistent HTTP/1.1 connections on several threads, and reports requests per
second and latency percentiles for:

- ``get``: GET of one Deployment,
- ``list``: LIST of a namespace holding 50 ConfigMaps,
- ``apply-unchanged``: server-side apply of an unchanged Deployment (the GitOps steady state),
- ``apply-changed``: server-side apply of a ConfigMap whose data changes on every request,
- ``apply-scale``: server-side apply of a Deployment whose replicas change on every request
  (the simulated controllers react to each change, as they would in a sync),
- ``apply-create``: server-side apply creating a new ConfigMap each time.

Usage: ``python bench/kube_emulator.py [--seconds 5] [--threads 4] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"

Request = tuple[str, str, bytes, str]


def _deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": f"c{i}",
                            "image": f"registry.example.com/{name}-{i}:1.0",
                            "ports": [{"containerPort": 8080 + i, "name": f"http{i}"}],
                            "env": [{"name": "MODE", "value": "bench"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                        for i in range(3)
                    ]
                },
            },
        },
    }


def _configmap(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"value": value, "other": "x" * 200},
    }


APPLY = "application/apply-patch+yaml"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
CONFIGMAPS = f"/api/v1/namespaces/{NAMESPACE}/configmaps"


def _apply(path: str, obj: dict[str, Any]) -> Request:
    query = "?fieldManager=bench&force=true"
    return ("PATCH", f"{path}/{obj['metadata']['name']}{query}", json.dumps(obj).encode(), APPLY)


def start_emulator() -> tuple[subprocess.Popen[str], str, int]:
    """The emulator process and its host and port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.kube", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    host, port = url.removeprefix("http://").split(":")
    return process, host, int(port)


def call(conn: http.client.HTTPConnection, request: Request) -> int:
    method, path, body, ctype = request
    headers = {"Content-Type": ctype, "Accept": "application/json"} if body else {}
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def run_case(
    host: str, port: int, make: Callable[[int, int], Request], seconds: float, threads: int
) -> dict[str, Any]:
    """Hammer the server with ``threads`` keep-alive connections for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        while time.monotonic() < stop:
            began = time.perf_counter()
            status = call(conn, make(index, n))
            latencies[index].append(time.perf_counter() - began)
            if status >= 300:
                failures[index] += 1
            n += 1
        conn.close()

    began = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - began
    every = sorted(x for per in latencies for x in per)
    count = len(every)
    return {
        "requests": count,
        "failures": sum(failures),
        "seconds": round(elapsed, 2),
        "rps": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(every) * 1000, 2),
        "p99_ms": round(every[int(count * 0.99) - 1] * 1000, 2),
    }


def prepare(host: str, port: int) -> None:
    """The namespace, one Deployment and 50 ConfigMaps."""
    conn = http.client.HTTPConnection(host, port)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    call(conn, ("POST", "/api/v1/namespaces", json.dumps(namespace).encode(), "application/json"))
    assert call(conn, _apply(DEPLOYMENTS, _deployment("web"))) < 300
    for i in range(16):
        assert call(conn, _apply(DEPLOYMENTS, _deployment(f"scale-{i}"))) < 300
    for i in range(50):
        assert call(conn, _apply(CONFIGMAPS, _configmap(f"cm-{i:02d}", "0"))) < 300
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each case")
    parser.add_argument("--threads", type=int, default=4, help="client connections")
    parser.add_argument("--output", type=Path, default=None, help="write results as JSON")
    args = parser.parse_args()
    process, host, port = start_emulator()
    try:
        prepare(host, port)
        deployment = _apply(DEPLOYMENTS, _deployment("web"))
        cases: dict[str, Callable[[int, int], Request]] = {
            "get": lambda t, n: ("GET", f"{DEPLOYMENTS}/web", b"", ""),
            "list": lambda t, n: ("GET", CONFIGMAPS, b"", ""),
            "apply-unchanged": lambda t, n: deployment,
            "apply-changed": lambda t, n: _apply(CONFIGMAPS, _configmap(f"cm-{t:02d}", str(n))),
            "apply-scale": lambda t, n: _apply(
                DEPLOYMENTS, _deployment(f"scale-{t % 16}", replicas=1 + n % 5)
            ),
            "apply-create": lambda t, n: _apply(CONFIGMAPS, _configmap(f"new-{t}-{n}", "0")),
        }
        results = {
            name: run_case(host, port, make, args.seconds, args.threads)
            for name, make in cases.items()
        }
    finally:
        process.terminate()
        process.wait(10)
    print(f"{'case':<16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failures':>8}")
    for name, r in results.items():
        print(f"{name:<16} {r['rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['failures']:>8}")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        report = {"threads": args.threads, "seconds": args.seconds, "results": results}
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["failures"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
