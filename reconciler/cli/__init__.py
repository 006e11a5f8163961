"""The `kajitori` command line.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the module
adds one parser and sets ``handler`` (a function taking the parsed namespace and returning an
exit code) with ``set_defaults``. Modules are named as import paths so that this package does
not import the bot or the sandbox unless their command is used.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "reconciler.cli.check",
    "reconciler.cli.render",
    "reconciler.cli.health",
    "reconciler.cli.diff",
    "reconciler.cli.sync",
    "reconciler.cli.history",
    "reconciler.cli.run",
    "sandbox.kube.cli",
    "sandbox.demo_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kajitori",
        description="ChatOps for pull-based GitOps: an Argo CD-style reconciler and a Slack bot.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
