"""`kajitori demo`: try kajitori on a laptop with no cluster and no Slack.

Starts a Kubernetes emulator, a GitHub stand-in holding a demo app's manifests, a Slack
stand-in with a browser console that looks like a channel, and kajitori connected to all
three through its ordinary configuration (``sandbox.demo``). Prints the console's address,
opens it in a browser unless ``--no-browser`` (or no graphical session is found), and runs
until Ctrl-C. Files (repositories, configuration, state, ``kajitori.log``) go to a temporary
folder removed at exit, or to ``--workdir``, which must be new or empty.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from reconciler.errors import KajitoriError
from reconciler.logs import configure_logging


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="try kajitori locally: emulated cluster, GitHub and Slack, in a browser",
        description=(
            "Run kajitori against a local Kubernetes emulator, a GitHub stand-in with a demo "
            "app and a Slack stand-in whose console (a web page that looks like a Slack "
            "channel) shows the notifications and takes slash commands and button clicks. "
            "Stop with Ctrl-C."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="port of the console page (default: a free one)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the console's address, do not open it"
    )
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="keep repositories, configuration, state and log in DIR (new or empty); "
        "default: a temporary folder removed at exit",
    )
    parser.set_defaults(handler=run)


def _graphical(env: Mapping[str, str]) -> bool:
    """Whether a browser can open a window (a Linux terminal session may have none, and a
    text-mode browser would take over the terminal)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def demo(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Run the demo described by ``args``; the exit code."""
    from sandbox.demo import run_demo  # the stand-ins load only for this command

    if not 0 <= args.port <= 65535:
        print(f"kajitori demo: --port must be 0..65535, got {args.port}", file=err)
        return 2
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="kajitori-demo-") if temporary else args.workdir)
    if not temporary and workdir.exists() and any(workdir.iterdir()):
        print(f"kajitori demo: --workdir {workdir} is not empty; give a new folder", file=err)
        return 2
    opener = None
    if not args.no_browser and _graphical(env):
        opener = webbrowser.open
    try:
        return run_demo(workdir, out=out, port=args.port, open_browser=opener)
    except OSError as error:
        print(f"kajitori demo: cannot start: {error}", file=err)
        return 1
    except KajitoriError as error:
        print(f"kajitori demo: cannot start: {error}", file=err)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        configure_logging("warning", stream=err)  # the log file is closed now
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    """The ``demo`` handler: the CLI entry, the one place that reads os.environ."""
    return demo(args, os.environ, sys.stdout, sys.stderr)
