"""`kajitori run -c FILE`: run the reconciler as a service until SIGTERM or SIGINT.

Loads the configuration (``{env: NAME}`` secrets from the process environment), installs the
logging the settings ask for (text or JSON, every secret redacted), builds the service
(``reconciler.service``: controller, live cache, state store, HTTP port with probes, metrics,
GitHub webhooks and the refresh API), plugs in the service extensions (the Slack bot and
GitHub commit statuses, ``reconciler.service_extensions``, when the settings ask for
them) and starts it. Without Slack it runs headless and logs what it would have notified.
SIGTERM or SIGINT stops it gracefully (in-flight steps finish and are persisted) and the exit
code is 0; a configuration problem, an unreadable kubeconfig, a state file that cannot be
opened, a Slack token Slack refuses or a port in use exit with 1 and say which.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from reconciler.config import load_config
from reconciler.errors import ConfigError, KajitoriError

log = logging.getLogger("kajitori.run")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run the reconciler service (HTTP port, webhooks, metrics)",
        description=(
            "Run kajitori: keep the cluster equal to Git for every Application of the "
            "configuration file, serve /healthz, /readyz, /metrics, GitHub push webhooks and "
            "the refresh API, and notify (or, without Slack, log) what happens. Stops "
            "gracefully on SIGTERM or SIGINT."
        ),
    )
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="kajitori configuration file"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)",
    )
    where.add_argument(
        "--in-cluster",
        action="store_true",
        help="use the service account of the pod kajitori runs in",
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="HTTP port (overrides server.port; 0 picks a free one)",
    )
    parser.set_defaults(handler=run)


def serve(args: argparse.Namespace, env: Mapping[str, str], err: TextIO) -> int:
    """Run the service described by ``args`` until a stop signal; the exit code."""
    if args.in_cluster and args.context:
        print("kajitori run: --context cannot be used with --in-cluster", file=err)
        return 2
    if args.port is not None and not 0 <= args.port <= 65535:
        print(f"kajitori run: --port must be 0..65535, got {args.port}", file=err)
        return 2
    try:
        config = load_config(args.config, env=env)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=err)
        print(f"{args.config}: {len(error.problems)} problem(s) found", file=err)
        return 1
    # Imported here so that `kajitori check` and friends do not load the service's parts.
    from reconciler.service import build_service, setup_logging
    from reconciler.service_extensions import attach_extensions

    setup_logging(config.settings, err)
    try:
        service = build_service(
            config,
            env=env,
            kubeconfig=args.kubeconfig,
            context=args.context,
            in_cluster=args.in_cluster,
            port=args.port,
        )
    except KajitoriError as error:
        log.error("cannot start: %s", error)
        return 1
    try:
        attach_extensions(service, config, env=env)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=err)
        print(f"{args.config}: {len(error.problems)} problem(s) found", file=err)
        service.stop()
        return 1
    except KajitoriError as error:
        log.error("cannot start: %s", error)
        service.stop()
        return 1
    with service.stop_signals():
        try:
            service.start()
        except OSError as error:
            server = config.settings.server
            port = server.port if args.port is None else args.port
            log.error("cannot listen on %s:%d: %s", server.host, port, error.strerror or error)
            service.stop()
            return 1
        except KajitoriError as error:
            log.error("cannot start: %s", error)
            service.stop()
            return 1
        service.wait()
    try:
        service.stop()
    except KeyboardInterrupt:
        log.error("interrupted while stopping: in-flight steps may not have been persisted")
        return 130
    return 0


def run(args: argparse.Namespace) -> int:
    """The ``run`` handler: the CLI entry, so the one place that reads os.environ."""
    return serve(args, os.environ, sys.stderr)
