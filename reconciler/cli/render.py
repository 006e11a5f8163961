"""`kajitori render APP -c FILE`: print the desired objects of an app as Git renders them.

Fetches the app's repository into the cache (settings ``controller.cacheDir``, or
``--cache-dir``), resolves its targetRevision (or ``--revision``), renders it the way the
reconciler does (directory, Kustomize or Helm) and prints the objects as YAML documents
separated by ``---``, ready for ``kubectl apply -f -``. A line naming the commit goes to standard
error so standard output stays clean. Any problem (configuration, Git, rendering) is printed to
standard error with exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from reconciler.errors import KajitoriError

DEFAULT_CACHE_DIR = Path("~/.cache/kajitori")
REPOS_SUBDIR = "repos"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``render`` subcommand."""
    parser = subparsers.add_parser(
        "render",
        help="print the desired objects of an app, rendered from Git",
        description=(
            "Render an application's manifests from its Git repository (plain YAML, Kustomize "
            "or Helm) and print them as YAML documents separated by '---'."
        ),
    )
    parser.add_argument("app", metavar="APP", help="name of the Application")
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="kajitori configuration file"
    )
    parser.add_argument(
        "--revision", metavar="REV", help="branch, tag or commit to render instead of the app's"
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where Git repositories are cached (default: the settings' controller.cacheDir)",
    )
    parser.set_defaults(handler=run)


def dump_documents(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> str:
    """The objects as a YAML stream, ``---`` between documents."""
    return "---\n".join(
        yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)
        for obj in objects
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Render and print; 1 with a message on standard error when anything fails."""
    out = out or sys.stdout
    err = err or sys.stderr
    # Imported here so that other subcommands do not load GitPython and Helm.
    from reconciler.config import load_config
    from reconciler.manifests import ManifestLoader
    from reconciler.source import GitSource

    try:
        config = load_config(args.config, env=os.environ)
        app = config.app(args.app)
        settings = config.settings
        cache_dir = Path(args.cache_dir) if args.cache_dir else settings.controller.cache_dir
        cache_dir = (cache_dir or DEFAULT_CACHE_DIR).expanduser()
        git = GitSource(cache_dir / REPOS_SUBDIR, settings.repositories)
        try:
            manifests = ManifestLoader(git).load(app, args.revision)
        finally:
            git.close()
    except KajitoriError as error:
        print(f"kajitori render: {error}", file=err)
        return 1
    commit = manifests.commit
    print(
        f"# {app.name}: {len(manifests.objects)} objects from {app.spec.source.repo_url} "
        f"{app.spec.source.path} at {commit.sha[:12]} ({commit.title})",
        file=err,
    )
    out.write(dump_documents(manifests.objects))
    return 0
