"""`kajitori check -c FILE`: validate a configuration file without touching Git or a cluster.

Prints every problem in the file (one per line, each naming the file, document, object, field
and line) on standard error and exits 1; when there are none, prints a one-line summary such
as "3 applications, 2 projects OK" on standard output and exits 0. Secrets written as
``{env: NAME}`` are resolved from the process environment, so a missing variable is reported
too; no secret value is ever printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from reconciler.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="validate a configuration file",
        description=(
            "Validate a kajitori configuration file (Argo CD Applications and AppProjects plus "
            "kajitori Settings) and print every problem found. Exit code 1 when there are any."
        ),
    )
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="kajitori configuration file"
    )
    parser.set_defaults(handler=run)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def check(path: str | Path, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Validate ``path`` and report on ``out``/``err``; the exit code."""
    try:
        from reconciler.config import load_config  # loaded only for this command

        config = load_config(path, env=env)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=err)
        print(f"{path}: {_plural(len(error.problems), 'problem')} found", file=err)
        return 1
    apps = _plural(len(config.applications), "application")
    projects = _plural(len(config.projects), "project")
    print(f"{apps}, {projects} OK", file=out)
    return 0


def run(args: argparse.Namespace) -> int:
    """The ``check`` handler: the CLI entry, so the one place that reads os.environ."""
    return check(args.config, os.environ, sys.stdout, sys.stderr)
