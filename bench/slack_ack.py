"""Ack latency of the Slack bot's slash commands under load (issue 6's benchmark).

The real bot (``bot.app.create_app``: slack_bolt App, HTTP mode, signature checks on) is
served by ``reconciler.http`` on waitress, with its Web API client pointed at the Slack
sandbox; the controller is the tests' fake (``tests/integration/bot_fakes.py``) whose syncs
sleep between steps. First ``--background`` syncs are started and held running (their fake
operations wait on a gate) so their progress reports and channel messages are live; then
``--rounds`` rounds each fire ``--concurrency`` signed slash commands at once from as many
threads (half ``/sync`` of an idle app, whose fake sync then runs ``--step-delay`` seconds per
step, half ``/diff``). The latency of a command is the HTTP round trip the sandbox measures
from sending the signed request to reading Bolt's ack (what Slack's 3-second deadline
counts). The bot runs in a process of its own; the load generator and the sandbox (which also
answers the bot's Web API calls) share this one, and everything shares the machine's cores.
"inside the bot" is the time from waitress calling the Slack endpoint to the complete answer,
measured in the bot's process: it leaves out the wait for a free waitress thread and the
generator's own share of the CPU.

``--baseline`` puts an endpoint that answers 200 at once in the bot's place: what the
harness itself costs.

Usage: ``python bench/slack_ack.py [--rounds 10] [--concurrency 50] [--background 20]
[--threads 16] [--step-delay 0.5] [--baseline]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for tests.integration.bot_fakes
    sys.path.insert(0, str(ROOT))

from bot.app import SLACK_EVENTS_PATH, create_app, shutdown, wsgi_app  # noqa: E402
from reconciler.http import HttpApi, HttpServer  # noqa: E402
from sandbox.slack import SlackSandbox  # noqa: E402
from tests.integration.bot_fakes import (  # noqa: E402
    FakeController,
    make_app,
)
from tests.integration.bot_harness import (  # noqa: E402
    SECRET,
    bot_settings,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def serve_bot(args: argparse.Namespace) -> int:
    """The bot's process: the fake controller and the real bot on waitress. Prints its URL,
    then on a line "go" lets new syncs run (the held ones keep waiting), and on end of input
    releases them and exits."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N"
    apps = [make_app(f"held{i}") for i in range(args.background)]
    apps += [make_app(f"app{r}-{i}") for r in range(args.rounds) for i in range(args.concurrency)]
    controller = FakeController(apps, step_delay=args.step_delay)
    held = threading.Event()
    controller.gate = held
    app = create_app(bot_settings(), controller, api_url=args.api_url, workers=args.workers)
    slack_endpoint = wsgi_app(app)
    measuring = threading.Event()
    server_times: list[float] = []

    def timed(environ: Any, start_response: Any) -> list[bytes]:
        """The bot's endpoint, timed from the WSGI call to the complete answer."""
        started = time.perf_counter()
        body = list(slack_endpoint(environ, start_response))
        if measuring.is_set():
            server_times.append(time.perf_counter() - started)
        return body

    def empty(environ: Any, start_response: Any) -> list[bytes]:
        """--baseline: an endpoint that answers 200 at once (the harness's own cost)."""
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    api = HttpApi()
    api.mount(SLACK_EVENTS_PATH, empty if args.baseline else timed, strip_prefix=False)
    with HttpServer(api, host="127.0.0.1", port=0, threads=args.threads) as server:
        print(server.url + SLACK_EVENTS_PATH, flush=True)
        for line in sys.stdin:
            if line.strip() == "go":
                controller.gate = None
                measuring.set()
        held.set()
        controller.wait_idle(timeout=60)
    shutdown(app)
    print(json.dumps(server_times), flush=True)
    return 0


def run(args: argparse.Namespace) -> dict[str, list[float]]:
    """The load generator's process: the Slack sandbox, and the commands. Returns the round
    trips per command, and under "server" the bot's own time per request."""
    latencies: dict[str, list[float]] = {"/sync": [], "/diff": [], "server": []}
    with SlackSandbox(signing_secret=SECRET) as slack:
        command = [sys.executable, __file__, "--bot", "--api-url", slack.url]
        for name in ("rounds", "concurrency", "background", "threads", "workers", "step_delay"):
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        if args.baseline:
            command.append("--baseline")
        bot = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert bot.stdin is not None and bot.stdout is not None
        try:
            url = bot.stdout.readline().strip()
            for i in range(0 if args.baseline else args.background):
                reply = slack.send_slash_command(url, "/sync", f"held{i}", user_id="U0BOB")
                assert reply.status == 200, reply.text
            slack.wait_until(
                lambda: (
                    args.baseline or len(slack.messages("C0DEPLOYS")["messages"]) >= args.background
                ),
                timeout=60,
                what="the held syncs' messages",
            )
            bot.stdin.write("go\n")
            bot.stdin.flush()
            for round_no in range(args.rounds):
                _round(slack, url, round_no, args, latencies)
                time.sleep(args.pause)
        finally:
            bot.stdin.close()
            latencies["server"] = json.loads(bot.stdout.readline() or "[]")
            bot.wait(120)
    return latencies


def _round(
    slack: SlackSandbox,
    url: str,
    round_no: int,
    args: argparse.Namespace,
    latencies: dict[str, list[float]],
) -> None:
    """``--concurrency`` commands at once: half /sync of an idle app, half /diff."""
    jobs: list[tuple[str, str]] = []
    for i in range(args.concurrency):
        if i % 2 == 0:
            jobs.append(("/sync", f"app{round_no}-{i}"))
        else:
            jobs.append(("/diff", f"held{i % max(1, args.background)}"))
    barrier = threading.Barrier(len(jobs))

    def fire(job: tuple[str, str]) -> float:
        barrier.wait()
        reply = slack.send_slash_command(url, job[0], job[1], user_id="U0BOB")
        if reply.status != 200:
            raise RuntimeError(f"{job}: HTTP {reply.status} {reply.text}")
        return reply.elapsed

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for job, elapsed in zip(jobs, pool.map(fire, jobs), strict=True):
            latencies[job[0]].append(elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--background", type=int, default=20)
    parser.add_argument("--threads", type=int, default=16, help="waitress worker threads")
    parser.add_argument("--workers", type=int, default=8, help="the bot's worker threads")
    parser.add_argument("--step-delay", type=float, default=0.5)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between rounds")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="answer every command with an empty 200 instead of the bot (the harness's cost)",
    )
    parser.add_argument("--bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bot:
        return serve_bot(args)
    started = time.perf_counter()
    latencies = run(args)
    took = time.perf_counter() - started
    rows: list[tuple[str, Callable[[], list[float]]]] = [
        ("/sync", lambda: latencies["/sync"]),
        ("/diff", lambda: latencies["/diff"]),
        ("all", lambda: latencies["/sync"] + latencies["/diff"]),
        ("all, inside the bot", lambda: latencies["server"]),
    ]
    print("| command | requests | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values_of in rows:
        values = values_of()
        if not values:
            continue
        print(
            f"| {name} | {len(values)} | {statistics.median(values) * 1000:.1f} | "
            f"{percentile(values, 0.99) * 1000:.1f} | {max(values) * 1000:.1f} |"
        )
    print(
        f"\n{os.cpu_count()} CPUs, Python {platform.python_version()}, {took:.1f} s in all; "
        f"waitress threads {args.threads}, bot workers {args.workers}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
