"""`kajitori diff APP -c FILE`: show how the cluster differs from what Git says, like
`kubectl diff`.

Renders the app from Git exactly as `kajitori render` does, compares it with the cluster of the
kubeconfig (``--kubeconfig``/``--context``, else $KUBECONFIG or ~/.kube/config) and prints one
unified diff per resource that differs (``live/<resource>`` against ``desired/<resource>``),
Secret values masked. Notes about resources (a namespace that does not exist yet, a refused
dry-run) and a summary go to standard error. Exit code 0 when nothing differs, 1 when something
does, 2 when the comparison could not be made (configuration, Git, rendering, the cluster).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from reconciler.errors import KajitoriError

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diff`` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="show how the cluster differs from an app's manifests in Git",
        description=(
            "Compare an application's manifests, rendered from Git, with the live cluster and "
            "print a unified diff per resource that differs (Secret values masked). Exit code "
            "0: no differences, 1: differences, 2: error."
        ),
    )
    parser.add_argument("app", metavar="APP", help="name of the Application")
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="kajitori configuration file"
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument(
        "--revision", metavar="REV", help="branch, tag or commit to compare instead of the app's"
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where Git repositories are cached (default: the settings' controller.cacheDir)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Render, compare and print; see the module docstring for the exit codes."""
    out = out or sys.stdout
    err = err or sys.stderr
    # Imported here so that other subcommands load neither GitPython, Helm nor kubernetes.
    from reconciler.cli.render import DEFAULT_CACHE_DIR, REPOS_SUBDIR
    from reconciler.cluster import Cluster
    from reconciler.compare import compare
    from reconciler.compare_types import COMPARISON_ERROR
    from reconciler.config import load_config
    from reconciler.manifests import ManifestLoader
    from reconciler.source import GitSource

    try:
        config = load_config(args.config, env=os.environ)
        app = config.app(args.app)
        settings = config.settings
        cache_dir = Path(args.cache_dir) if args.cache_dir else settings.controller.cache_dir
        git = GitSource(
            (cache_dir or DEFAULT_CACHE_DIR).expanduser() / REPOS_SUBDIR, settings.repositories
        )
        try:
            manifests = ManifestLoader(git).load(app, args.revision)
        finally:
            git.close()
        cluster = Cluster.from_kubeconfig(
            args.kubeconfig, args.context, namespaces=settings.controller.namespaces
        )
        try:
            result = compare(app, manifests.objects, cluster, revision=manifests.commit.sha)
        finally:
            cluster.close()
    except KajitoriError as error:
        print(f"kajitori diff: {error}", file=err)
        return EXIT_ERROR

    errors = [c for c in result.conditions if c.type == COMPARISON_ERROR]
    for condition in result.conditions:
        print(f"kajitori diff: {condition.type}: {condition.message}", file=err)
    differing = [r for r in result.resources if r.status == "OutOfSync" and not r.ignore_extraneous]
    for resource in result.resources:
        if resource.message:
            print(f"# {resource.key}: {resource.message}", file=err)
    for resource in differing:
        out.write(resource.diff)
    print(
        f"# {app.name} at {manifests.commit.sha[:12]}: {result.sync_status}, "
        f"{len(differing)} of {sum(1 for r in result.resources if not r.hook)} resources differ",
        file=err,
    )
    if errors:
        return EXIT_ERROR
    return EXIT_DIFFERENT if differing else EXIT_SAME
