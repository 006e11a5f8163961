"""``kajitori emulator`` and ``python -m sandbox.kube``: run the Kubernetes API emulator.

Starts the emulator, writes a kubeconfig for it, prints its URL and how to point kubectl at
it, and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by both entry points."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="write a kubeconfig for the emulator to this path",
    )
    parser.add_argument(
        "--time-factor",
        type=float,
        default=1.0,
        help="multiply every simulated controller delay by this factor (default 1.0)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the emulator until interrupted; returns the exit code."""
    from sandbox.kube.emulator import KubeEmulator  # loaded only for this command

    if args.time_factor < 0:
        print("error: --time-factor must not be negative", file=sys.stderr)
        return 2
    received: list[int] = []  # a signal handler may only append: see the note in on_signal

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # No locks in a handler: it runs on the main thread, which may hold the lock it wants.
        received.append(signum)

    emulator = KubeEmulator(host=args.host, port=args.port, time_factor=args.time_factor)
    try:
        emulator.start()
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, on_signal)
    try:
        print(f"Kubernetes API emulator listening on {emulator.url}", flush=True)
        if args.kubeconfig is not None:
            path = emulator.write_kubeconfig(args.kubeconfig)
            print(f"kubeconfig written to {path}")
            print(f"  KUBECONFIG={path} kubectl get namespaces")
        else:
            print(f"  kubectl --server {emulator.url} --token dummy get namespaces")
        print(
            "Control API: GET /_sandbox/audit, POST /_sandbox/reset, /_sandbox/faults, "
            "/_sandbox/time-factor. Ctrl-C to stop.",
            flush=True,
        )
        while not received:
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    print("stopped", flush=True)
    return 0


def register(subparsers: Any) -> None:
    """Add ``kajitori emulator`` to the kajitori command line."""
    parser = subparsers.add_parser(
        "emulator",
        help="run the local Kubernetes API emulator",
        description="Run the Kubernetes API server emulator (sandbox/kube) until Ctrl-C.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sandbox.kube``."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.kube",
        description="Run the Kubernetes API server emulator until Ctrl-C.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
