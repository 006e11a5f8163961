"""`kajitori history APP -c FILE`: the deployments of an app, oldest first, as kept in the
state store (``settings.controller.statePath``): ID, when it was deployed, the revision and who
started it. `kajitori rollback APP [ID]` takes one of these IDs."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from reconciler.errors import KajitoriError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``history`` subcommand."""
    parser = subparsers.add_parser(
        "history",
        help="list the deployments of an app (IDs for `kajitori rollback`)",
        description="List the deployment history of an application, oldest first.",
    )
    parser.add_argument("app", metavar="APP", help="name of the Application")
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="kajitori configuration file"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the history table; 1 with a message when the app or the store is unusable."""
    from reconciler.config import load_config
    from reconciler.state import SQLiteStore

    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(args.config, env=os.environ)
        app = config.app(args.app)
        with SQLiteStore(config.settings.controller.state_path) as store:
            history = store.history(app.name)
    except KajitoriError as error:
        print(f"kajitori history: {error}", file=err)
        return 1
    if not history:
        print(f"{app.name} has no deployments yet", file=out)
        return 0
    print(f"{'ID':<4} {'DEPLOYED AT':<21} {'REVISION':<42} INITIATED BY", file=out)
    for entry in history:
        who = "automated" if entry.automated else (entry.initiated_by or "-")
        print(f"{entry.id:<4} {entry.deployed_at:<21} {entry.revision:<42} {who}", file=out)
    return 0
