"""`kajitori sync APP -c FILE` and `kajitori rollback APP [ID] -c FILE`: run a sync operation
against the cluster of the kubeconfig and show its progress per phase and wave.

`sync` renders the app from Git (``--revision`` instead of its targetRevision), then runs the
operation to its end: dry-run, phases and waves, hooks, prunes (only with ``--prune``),
printing each group as it starts, each object as it is written and each hook as it finishes.
``--dry-run`` only asks the server; ``--resource GROUP:KIND:NAME`` (or
``GROUP:KIND:NAMESPACE/NAME``; the core group is empty, as in ``:Service:web``) syncs only the
objects named, without hooks; ``--strategy apply`` skips hooks too.

`rollback` syncs the revision of a history entry (by default the deployment before the
current one) with hooks skipped, as Argo CD does; it is refused while the app syncs
automatically.

The operation state is saved after every step in the state store
(``settings.controller.statePath``). If an operation of the app was interrupted (the process
was killed), the next `sync` or `rollback` resumes it first and says so, so a migration hook
that already ran is not run again. Exit code 0 only when the operation Succeeded, 1 when it
ended otherwise, 2 when it could not start (configuration, Git, rendering, cluster).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from reconciler.errors import KajitoriError
from reconciler.model import ResourceKey

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sync`` and ``rollback`` subcommands."""
    sync = subparsers.add_parser(
        "sync",
        help="sync an app to its manifests in Git, with hooks, waves and pruning",
        description=(
            "Sync an application to its manifests rendered from Git, as Argo CD does: dry-run, "
            "then phases (PreSync, Sync, PostSync) and waves, hooks, and pruning with --prune. "
            "Exit code 0 only when the sync Succeeded."
        ),
    )
    sync.add_argument("app", metavar="APP", help="name of the Application")
    _common(sync)
    sync.add_argument("--revision", metavar="REV", help="branch, tag or commit to sync")
    sync.add_argument("--prune", action="store_true", help="delete objects no longer in Git")
    sync.add_argument("--dry-run", action="store_true", help="only ask the server; change nothing")
    sync.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="GROUP:KIND:NAME",
        help="sync only this object (repeatable; GROUP:KIND:NAMESPACE/NAME also works)",
    )
    sync.add_argument(
        "--strategy", choices=("hook", "apply"), default="hook", help="apply skips hooks"
    )
    sync.set_defaults(handler=run_sync)

    rollback = subparsers.add_parser(
        "rollback",
        help="sync an app back to an earlier deployment from its history (hooks skipped)",
        description=(
            "Sync an application to the revision of a history entry (default: the deployment "
            "before the current one), with hooks skipped, as Argo CD's rollback does. Refused "
            "while automated sync is enabled."
        ),
    )
    rollback.add_argument("app", metavar="APP", help="name of the Application")
    rollback.add_argument("id", metavar="ID", nargs="?", type=int, help="history entry ID")
    _common(rollback)
    rollback.add_argument(
        "--prune", action="store_true", help="delete objects not in that revision"
    )
    rollback.set_defaults(handler=run_rollback)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="kajitori configuration file"
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where Git repositories are cached (default: the settings' controller.cacheDir)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="terminate the operation after this long (default: the settings' syncTimeout)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often to check running hooks and resources (default 1)",
    )


def parse_resource(text: str) -> ResourceKey:
    """``GROUP:KIND:NAME`` or ``GROUP:KIND:NAMESPACE/NAME`` (Argo CD's --resource form)."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise KajitoriError(
            f"--resource {text!r}: expected GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME "
            "(the core group is empty, as in :Service:web)"
        )
    group, kind, name = parts
    namespace, _, bare = name.rpartition("/")
    return ResourceKey(group, kind, namespace, bare)


def run_sync(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The ``sync`` command; see the module docstring for the exit codes."""
    from reconciler.sync_types import SyncRequest

    out, err = out or sys.stdout, err or sys.stderr
    try:
        resources = tuple(parse_resource(text) for text in args.resource)
        request = SyncRequest(
            revision=args.revision or "",
            prune=args.prune,
            dry_run=args.dry_run,
            resources=resources,
            strategy=args.strategy,
            initiated_by=_user(),
        )
    except KajitoriError as error:
        print(f"kajitori sync: {error}", file=err)
        return EXIT_ERROR
    return _run(args, "sync", lambda app, history: request, out, err)


def run_rollback(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The ``rollback`` command."""
    from reconciler.history import rollback_request, rollback_target

    def request(app: Any, history: Any) -> Any:
        entry = rollback_target(history, args.id)
        print(
            f"rolling back {app.name} to history entry {entry.id} ({entry.revision[:12]})", file=out
        )
        return rollback_request(app, entry, prune=args.prune, initiated_by=_user())

    return _run(args, "rollback", request, out or sys.stdout, err or sys.stderr)


def _run(
    args: argparse.Namespace, command: str, make_request: Any, out: TextIO, err: TextIO
) -> int:
    # Imported here so that other subcommands load neither GitPython, Helm nor kubernetes.
    from reconciler.cli.render import DEFAULT_CACHE_DIR, REPOS_SUBDIR
    from reconciler.cli.sync_output import ProgressPrinter
    from reconciler.cluster import Cluster
    from reconciler.config import load_config
    from reconciler.manifests import ManifestLoader
    from reconciler.source import GitSource
    from reconciler.state import SQLiteStore
    from reconciler.sync import SyncOperation
    from reconciler.sync_runner import drive, resumable

    printer = ProgressPrinter(out, err)
    try:
        config = load_config(args.config, env=os.environ)
        app = config.app(args.app)
        settings = config.settings.controller
        cache_dir = Path(args.cache_dir) if args.cache_dir else settings.cache_dir
        git = GitSource(
            (cache_dir or DEFAULT_CACHE_DIR).expanduser() / REPOS_SUBDIR,
            config.settings.repositories,
        )
        store = SQLiteStore(settings.state_path)
    except KajitoriError as error:
        print(f"kajitori {command}: {error}", file=err)
        return EXIT_ERROR
    cluster = None
    try:
        options: dict[str, Any] = {"wave_delay": settings.wave_delay, "on_event": printer.event}
        saved = resumable(store, app)
        cluster = Cluster.from_kubeconfig(
            args.kubeconfig, args.context, namespaces=settings.namespaces
        )
        loader = ManifestLoader(git)
        if saved is not None:
            print(
                f"resuming the interrupted operation of {app.name} started at "
                f"{saved.to_dict()['startedAt']} (revision {saved.revision[:12]})",
                file=out,
            )
            manifests = loader.load(app, saved.revision)
            operation = SyncOperation.restore(saved, app, manifests.objects, cluster, **options)
        else:
            request = make_request(app, store.history(app.name))
            manifests = loader.load(app, request.revision or None)
            subject = (manifests.commit.message.strip().splitlines() or ["no message"])[0]
            print(f"{command} {app.name} to {manifests.commit.sha[:12]} ({subject})", file=out)
            operation = SyncOperation.start(
                app, manifests.objects, cluster, request, revision=manifests.commit.sha, **options
            )
        timeout = args.timeout if args.timeout is not None else settings.sync_timeout
        state = drive(operation, store, app, poll_interval=args.poll_interval, timeout=timeout)
    except KajitoriError as error:
        print(f"kajitori {command}: {error}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(
            f"kajitori {command}: interrupted; the operation's state is saved and the next "
            f"`kajitori {command} {args.app}` resumes it",
            file=err,
        )
        return EXIT_INTERRUPTED
    finally:
        git.close()
        store.close()
        if cluster is not None:
            cluster.close()
    printer.summary(state)
    if saved is not None:
        print(
            f"the resumed operation is done; run `kajitori {command}` again for a new one", file=out
        )
    return EXIT_SUCCEEDED if state.get("phase") == "Succeeded" else EXIT_FAILED


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "kajitori-cli"
