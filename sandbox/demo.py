"""``kajitori demo``: kajitori against local stand-ins for Kubernetes, GitHub and Slack.

:class:`Demo` starts, in one process:

1. the Kubernetes API emulator (``sandbox.kube``) and a kubeconfig for it;
2. the GitHub stand-in (``sandbox.github``) with ``acme/demo-manifests`` seeded with the demo
   app (``sandbox.demo_repo``);
3. the Slack stand-in (``sandbox.slack``);
4. kajitori itself from the configuration file it writes (``sandbox.demo_config``), built
   exactly as ``kajitori run`` builds it: ``build_service`` plus the service extensions (the
   Slack bot in HTTP mode, notifications to #deploys, GitHub commit statuses). Nothing in
   bot/ or reconciler/ knows it runs in a demo;
5. the console (``sandbox.demo_console``): the Slack channel view with a "Demo" panel whose
   buttons make a new commit (:meth:`Demo.new_commit`: the next release of the web image,
   pushed to the manifest repository, which sends kajitori a push webhook) and edit a live
   object (:meth:`Demo.edit_live_object`: scale the live Deployment by hand, as someone with
   kubectl would).

So a newcomer sees a notification, approves the migration, watches the deploy, makes drift,
and rolls back with ``/rollback demo``. ``run_demo`` is the command's body: it prints the
console's address and runs until Ctrl-C. Tests start :class:`Demo` on free ports.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from reconciler.config import load_config
from reconciler.service import Service, build_service, setup_logging
from reconciler.service_extensions import attach_extensions
from sandbox import demo_repo
from sandbox.demo_config import DemoSecrets, DemoTargets, demo_config, demo_env
from sandbox.demo_console import DemoAction, DemoActionError, DemoConsole
from sandbox.github import GitHubSandbox
from sandbox.kube import KubeEmulator
from sandbox.slack import SlackSandbox
from sandbox.slack_console import ConsoleLink

log = logging.getLogger("sandbox.demo")

SLACK_EVENTS_PATH: Final = "/slack/events"  # where kajitori's HTTP mode takes Slack's requests
GITHUB_WEBHOOK_PATH: Final = "/api/webhook/github"
EDIT_FIELD_MANAGER: Final = "kubectl-edit"  # who `kubectl edit` says made a change
COMMIT_AUTHOR: Final = "alice"
MAX_HAND_REPLICAS: Final = 6
LOG_FILE: Final = "kajitori.log"

T = TypeVar("T")


def _need(part: T | None) -> T:
    if part is None:
        raise RuntimeError("the demo is not started")
    return part


class Demo:
    """Everything ``kajitori demo`` runs (module docstring); a context manager.

    ``workdir`` holds the repositories, the configuration file and kajitori's state (a fresh
    temporary folder, removed at stop, when None). ``port`` is the console's (0: a free
    one). ``time_factor`` scales the emulated cluster's delays (pods starting, jobs running),
    ``wave_delay`` is kajitori's pause between sync waves and ``drift_debounce`` how long a
    manual edit lasts before it is reported: tests make them small. With ``log_stream``
    kajitori's logs go there as ``kajitori run`` sends them to standard error (secrets
    redacted); without, logging is left as the caller set it up."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_factor: float = 1.0,
        wave_delay: float = 1.0,
        drift_debounce: float = 5.0,
        log_stream: TextIO | None = None,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kajitori-demo-"))
        self.host = host
        self.port = port
        self.time_factor = time_factor
        self.wave_delay = wave_delay
        self.drift_debounce = drift_debounce
        self.log_stream = log_stream
        self.keys = DemoSecrets.generate()
        self.version = demo_repo.FIRST_VERSION
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()
        self._kube_api: kube_client.ApiClient | None = None
        self.kube: KubeEmulator | None = None
        self.github: GitHubSandbox | None = None
        self.slack: SlackSandbox | None = None
        self.service: Service | None = None
        self.console: DemoConsole | None = None
        self.config_path = self.workdir / "kajitori.yaml"
        self.kubeconfig_path = self.workdir / "kubeconfig"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Demo:
        """Start the stand-ins, the console (so a taken ``port`` fails early) and kajitori;
        on any failure stop what started and raise."""
        try:
            with self._stack as undo:
                self._start_standins()
                self._start_console()
                self._start_kajitori()
                self._stack = undo.pop_all()
        except BaseException:
            self._release()
            raise
        return self

    def _start_standins(self) -> None:
        kube = self._stack.enter_context(KubeEmulator(self.host, time_factor=self.time_factor))
        self.kube = kube
        kube.write_kubeconfig(self.kubeconfig_path)
        github = GitHubSandbox(self.workdir / "github", self.host, token=self.keys.github_token)
        self.github = self._stack.enter_context(github)
        github.create_repo(
            demo_repo.OWNER,
            demo_repo.REPO,
            files=demo_repo.demo_files(self.version),
            description="Manifests of kajitori's demo app",
        )
        slack = SlackSandbox(
            self.host,
            signing_secret=self.keys.slack_signing_secret,
            bot_token=self.keys.slack_bot_token,
        )
        self.slack = self._stack.enter_context(slack)

    def _start_kajitori(self) -> None:
        github, slack = _need(self.github), _need(self.slack)
        repo_url = github.repo_path(demo_repo.OWNER, demo_repo.REPO).as_uri()
        targets = DemoTargets(
            slack_api_url=slack.url,
            github_api_url=github.url,
            repo_url=repo_url,
            wave_delay=self.wave_delay,
            drift_debounce=self.drift_debounce,
        )
        self.config_path.write_text(demo_config(targets))
        env = demo_env(self.keys)
        config = load_config(self.config_path, env=env)
        if self.log_stream is not None:
            setup_logging(config.settings, self.log_stream)
        service = build_service(config, env=env, kubeconfig=self.kubeconfig_path)
        self._stack.callback(service.stop)
        attach_extensions(service, config, env=env)
        service.start()
        self.service = service
        github.configure_webhook(service.url + GITHUB_WEBHOOK_PATH, self.keys.webhook_secret)
        slack.bot_url = service.url + SLACK_EVENTS_PATH

    def _start_console(self) -> None:
        github, slack = _need(self.github), _need(self.slack)
        actions = [
            DemoAction(
                "new-commit",
                "New commit",
                "Push the next release of the web image to acme/demo-manifests",
                self.new_commit,
            ),
            DemoAction(
                "edit-live-object",
                "Edit live object",
                "Scale the live web Deployment by hand, as kubectl edit would",
                self.edit_live_object,
            ),
        ]
        repo_page = f"{github.urls.web}/{demo_repo.OWNER}/{demo_repo.REPO}"
        links = [ConsoleLink("acme/demo-manifests (pull requests)", repo_page)]
        console = DemoConsole(
            slack.base_url, actions, links, host=self.host, port=self.port, info=self.info
        )
        self.console = console.start()
        self._stack.callback(console.stop)

    def stop(self) -> None:
        """Stop everything, newest first; remove the temporary workdir."""
        try:
            self._stack.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._kube_api is not None:
            self._kube_api.close()  # type: ignore[no-untyped-call]
            self._kube_api = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the console shows and does ---------------------------------------------------

    @property
    def console_url(self) -> str:
        console = _need(self.console)
        return console.url + "/"

    @property
    def bot_url(self) -> str:
        """Where Slack's requests go: kajitori's /slack/events."""
        service = _need(self.service)
        return service.url + SLACK_EVENTS_PATH

    def info(self) -> dict[str, Any]:
        """The addresses of the parts, for ``GET /_demo`` and the start-up banner."""
        return {
            "console": self.console_url if self.console is not None else "",
            "kajitori": self.service.url if self.service is not None else "",
            "kubernetes": self.kube.url if self.kube is not None else "",
            "github": self.github.url if self.github is not None else "",
            "slack_api": self.slack.url if self.slack is not None else "",
            "config": str(self.config_path),
            "kubeconfig": str(self.kubeconfig_path),
            "web_version": self.version,
        }

    def new_commit(self) -> str:
        """Push the next release of the web image to the manifest repository (a push webhook
        tells kajitori at once); what happened, in a sentence."""
        github = _need(self.github)
        with self._lock:
            version = demo_repo.next_version(self.version)
            sha = github.commit_files(
                demo_repo.OWNER,
                demo_repo.REPO,
                "main",
                demo_repo.release_files(version),
                f"web: release {version}\n\nBump {demo_repo.IMAGE} to {version}.",
                author=COMMIT_AUTHOR,
            )
            self.version = version
        log.info("demo: pushed %s (web %s)", sha[:7], version)
        return f"{COMMIT_AUTHOR} pushed {sha[:7]}: web {version} to acme/demo-manifests"

    def _apps_api(self) -> kube_client.AppsV1Api:
        if self._kube_api is None:
            configuration = kube_client.Configuration()
            kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(self.kubeconfig_path), client_configuration=configuration
            )
            self._kube_api = kube_client.ApiClient(configuration)
        return kube_client.AppsV1Api(self._kube_api)

    def edit_live_object(self) -> str:
        """Scale the live ``web`` Deployment by one replica, as ``kubectl edit`` would (a
        strategic merge patch by the ``kubectl-edit`` field manager): drift, since Git says
        two; what happened, in a sentence."""
        apps = self._apps_api()
        with self._lock:
            try:
                live = apps.read_namespaced_deployment(demo_repo.DEPLOYMENT, demo_repo.NAMESPACE)
            except ApiException as error:
                if error.status != 404:
                    raise
                raise DemoActionError(
                    f"deployment/{demo_repo.DEPLOYMENT} is not in the cluster yet: let kajitori "
                    "deploy the app first (approve the migration when #deploys asks)"
                ) from None
            current = int(live.spec.replicas or 0) if live.spec is not None else 0
            wanted = current + 1 if current < MAX_HAND_REPLICAS else demo_repo.REPLICAS + 1
            apps.patch_namespaced_deployment(
                demo_repo.DEPLOYMENT,
                demo_repo.NAMESPACE,
                {"spec": {"replicas": wanted}},
                field_manager=EDIT_FIELD_MANAGER,
                _content_type="application/strategic-merge-patch+json",
            )
        log.info("demo: scaled deployment/web from %d to %d replicas by hand", current, wanted)
        return f"kubectl edit: deployment/web in {demo_repo.NAMESPACE} scaled {current} → {wanted}"


def banner(demo: Demo) -> str:
    """What ``kajitori demo`` prints once everything runs."""
    info = demo.info()
    return "\n".join(
        [
            "",
            "kajitori demo is running.",
            "",
            f"  Open the Slack console:  {info['console']}",
            "",
            "  In #deploys, watch kajitori deploy the demo app; approve the database",
            "  migration when it asks, then try /gitops status demo, /diff demo, /sync demo,",
            "  the Demo buttons (new commit, edit live object) and /rollback demo.",
            "",
            f"  kajitori:    {info['kajitori']}  (config {info['config']})",
            f"  Kubernetes:  {info['kubernetes']}  (KUBECONFIG={info['kubeconfig']})",
            f"  GitHub:      {info['github']}",
            f"  Files:       {demo.workdir}  (repositories, state, {LOG_FILE})",
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def run_demo(
    workdir: Path,
    *,
    out: TextIO,
    port: int = 0,
    open_browser: Callable[[str], object] | None = None,
    wait: Callable[[Service], object] | None = None,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Start the demo in ``workdir`` with kajitori's log in ``workdir/kajitori.log``, print
    the console's address to ``out`` (and open it with ``open_browser``), run until ``wait``
    returns (default: the service's wait for Ctrl-C or SIGTERM), stop; exit code 0.
    ``options`` are further :class:`Demo` keyword arguments."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (
        (workdir / LOG_FILE).open("a", encoding="utf-8") as log_file,
        Demo(workdir, port=port, log_stream=log_file, **dict(options or {})) as demo,
    ):
        service: Service = _need(demo.service)
        with service.stop_signals():  # caught before the banner, so an early Ctrl-C is clean
            print(banner(demo), file=out, flush=True)
            if open_browser is not None:
                open_browser(demo.console_url)
            (wait or (lambda running: running.wait()))(service)
        print("stopping the demo...", file=out, flush=True)
    return 0
