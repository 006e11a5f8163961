"""``kajitori run`` assembled: one object that owns every long-lived part of the service.

``build_service(config, env=...)`` wires, from the typed settings:

- ``GitSource`` (cache in ``controller.cacheDir``, the repository credentials),
- ``Cluster`` (a kubeconfig and context, ``$KUBECONFIG`` of ``env``, or the pod's service
  account; limited to ``controller.namespaces`` when set) and a ``LiveCache`` watching it
  through ``ClusterWatch`` (its requests counted in ``kajitori_app_k8s_request_total``),
- ``SQLiteStore`` (``controller.statePath``), ``EventBus``, ``Metrics``,
- the ``Controller`` over all of them,
- ``HttpApi`` on an ``HttpServer`` (``server.host``/``server.port``): ``/healthz``, ``/readyz``
  (the controller has started and the live cache has listed every watched kind),
  ``/metrics``, ``/api/webhook/github`` (``server.webhookSecret``, else
  ``github.webhookSecret``) into ``Controller.on_push`` and ``/api/refresh/<app>``
  (``server.refreshToken``) into ``Controller.refresh``; a secret that is not set turns its
  endpoint off.

Two hooks let the Slack bot plug in without this module knowing Slack: ``notifiers``
(callables subscribed to the event bus, also ``Service.add_notifier``) and ``mounts``
(``{prefix: wsgi_app}``, also ``Service.mount``). With no notifier the service runs headless:
a ``HeadlessNotifier`` logs every event as the notification it would have sent. Parts with a
life of their own (a Socket Mode connection, a notification sender) join the service's
lifecycle through ``Service.on_start`` and ``Service.on_stop``.

``reconciler.service_extensions.attach_extensions`` plugs in what the reconciler does not know
(the Slack bot, ``bot.extension``) by name, so that the reconciler never imports the bot.

``Service.start()`` binds the port first (so a taken port fails before anything runs), then
starts the controller. ``Service.stop()`` is graceful and idempotent: readiness goes to 503
and webhooks are no longer taken, the controller stops scheduling and lets in-flight steps
finish and persist, the watches close, subscribers drain, then HTTP stops and the store, Git
and cluster connections are released. ``Service.wait()`` blocks until SIGTERM or SIGINT.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from reconciler.cluster import Cluster
from reconciler.cluster_watch import ClusterWatch
from reconciler.config import Config
from reconciler.controller import Controller
from reconciler.events import Callback, EventBus, Subscription
from reconciler.headless import HeadlessNotifier
from reconciler.http import HttpApi, HttpServer
from reconciler.livecache import LiveCache
from reconciler.logs import RedactingFilter, configure_logging, secrets_of
from reconciler.metrics import Metrics
from reconciler.settings import Secret, Settings
from reconciler.source import GitSource
from reconciler.state import SQLiteStore
from reconciler.webhooks import PushEvent

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)

# How long stop() lets running operation steps finish: below Kubernetes' default 30 s grace
# period, leaving time to close the watches and the HTTP server before SIGKILL.
DEFAULT_STOP_TIMEOUT: Final = 20.0
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
HTTP_ACTOR: Final = "api"
HTTP_THREADS: Final = 16
SIGNAL_POLL: Final = 0.2  # how often wait() looks at the flag a signal handler set


def service_secrets(settings: Settings) -> list[Secret]:
    """Every secret in ``settings`` that must never reach a log: those ``secrets_of`` finds
    plus the server's webhook secret and refresh token."""
    found = secrets_of(settings)
    server = settings.server
    found.extend(s for s in (server.webhook_secret, server.refresh_token) if s is not None)
    return found


def setup_logging(settings: Settings, stream: TextIO | None = None) -> RedactingFilter:
    """Install the log handler the settings ask for (``logging.level``/``format``) with every
    secret of the settings redacted. ``stream`` defaults to standard error. APScheduler's
    own records (a line per job run) are kept for the debug level."""
    redactor = configure_logging(
        settings.logging.level,
        settings.logging.format,
        service_secrets(settings),
        stream=stream,
    )
    quiet = settings.logging.level != "debug"
    logging.getLogger("apscheduler").setLevel(logging.WARNING if quiet else logging.NOTSET)
    return redactor


def webhook_secret(settings: Settings) -> Secret | None:
    """The GitHub webhook secret: ``server.webhookSecret``, else ``github.webhookSecret``."""
    if settings.server.webhook_secret is not None:
        return settings.server.webhook_secret
    value = settings.github.get("webhookSecret")
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value.strip():
        return Secret(value.strip())
    return None


class Service:
    """The running parts of ``kajitori run``; built by ``build_service``."""

    def __init__(
        self,
        config: Config,
        *,
        git: GitSource,
        cluster: Cluster,
        watch_source: ClusterWatch,
        live_cache: LiveCache,
        store: SQLiteStore,
        events: EventBus,
        metrics: Metrics,
        controller: Controller,
        host: str,
        port: int,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.git = git
        self.cluster = cluster
        self.watch_source = watch_source
        self.live_cache = live_cache
        self.store = store
        self.events = events
        self.metrics = metrics
        self.controller = controller
        self.webhook_secret = webhook_secret(self.settings)
        self.api = HttpApi(
            metrics=metrics,
            ready=self.ready,
            webhook_secret=self.webhook_secret,
            on_push=self._on_push,
            refresh_token=self.settings.server.refresh_token,
            on_refresh=self._on_refresh,
            app_exists=lambda app: app in config.applications,
        )
        # Slack's endpoint holds a thread for each request while Bolt waits for its ack
        # (bench/README.md, "Slack bot ack latency"): 16 threads keep a burst from queueing.
        self.server = HttpServer(self.api, host, port, threads=HTTP_THREADS)
        self.notifiers: list[Subscription] = []
        self.headless: HeadlessNotifier | None = None
        self._lock = threading.Lock()
        self._started = False
        self._stopping = False
        self._stopped = False
        self._wake = threading.Event()
        self._signal: int | None = None
        self._handling = False
        self._start_hooks: list[tuple[str, Callable[[], object]]] = []
        self._stop_hooks: list[tuple[str, Callable[[], object]]] = []

    # -- hooks -----------------------------------------------------------------------------

    def add_notifier(self, callback: Callback, name: str | None = None) -> Subscription:
        """Subscribe ``callback`` to every event (on a thread of its own); a service with a
        notifier does not log headless notifications."""
        label = name or getattr(callback, "__name__", None) or type(callback).__name__
        subscription = self.events.subscribe(callback, f"notifier:{label}")
        self.notifiers.append(subscription)
        return subscription

    def mount(self, prefix: str, app: WSGIApplication, *, strip_prefix: bool = False) -> None:
        """Serve ``app`` under ``prefix`` on the service's port (the Slack endpoint). The full
        path is kept by default, as slack_bolt's WSGI adapter wants it."""
        self.api.mount(prefix, app, strip_prefix=strip_prefix)

    def on_start(self, callback: Callable[[], object], name: str) -> None:
        """Call ``callback`` when the service starts, once the controller runs (in the order
        added). If one raises, the service stops again and ``start()`` raises that error."""
        self._start_hooks.append((name, callback))

    def on_stop(self, callback: Callable[[], object], name: str) -> None:
        """Call ``callback`` when the service stops, after the event subscribers drained and
        before HTTP stops (in reverse order of adding); also when it never started. A failure
        is logged and the stop goes on."""
        self._stop_hooks.append((name, callback))

    # -- state -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL of the HTTP port (after ``start()``)."""
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def started(self) -> bool:
        return self._started and not self._stopping

    def ready(self) -> bool:
        """Readiness: started, not stopping, the controller running and the live cache has
        listed every watched kind."""
        return self.started and self.controller.ready() and self.live_cache.synced()

    # -- HTTP handlers ---------------------------------------------------------------------

    def _on_push(self, push: PushEvent) -> list[str]:
        if not self.started:
            log.warning("GitHub push to %s ignored: the service is not running", push.repository)
            return []
        return list(self.controller.on_push(push))

    def _on_refresh(self, app: str) -> None:
        self.controller.refresh(app)
        self.controller.record_audit(HTTP_ACTOR, "refresh", app, allowed=True)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Service:
        """Listen, then start the controller (resuming in-flight operations), then run the
        ``on_start`` hooks. OSError when the port is taken; on any failure what was started
        is stopped again."""
        with self._lock:
            if self._started or self._stopped:
                return self
            if not self.notifiers and self.headless is None:
                self.headless = HeadlessNotifier()
                self.events.subscribe(self.headless, "headless-notifications")
            self.server.start()
            try:
                self.controller.start()
            except BaseException:
                self.server.stop()
                raise
            self._started = True
        for name, hook in self._start_hooks:
            try:
                hook()
            except BaseException:
                log.error("starting %s failed: stopping the service", name)
                self.stop()
                raise
        apps = len(self.config.applications)
        log.info(
            "kajitori is running: %d application(s), cluster %s, HTTP %s "
            "(GitHub webhook %s, refresh API %s, notifications %s)",
            apps,
            self.cluster.host,
            self.url,
            "on" if self.webhook_secret else "off",
            "on" if self.settings.server.refresh_token else "off",
            "headless (logged)"
            if self.headless is not None
            else f"{len(self.notifiers)} notifier(s)",
        )
        return self

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop gracefully (see the module doc); safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._stopping = True
        self._wake.set()
        log.info("stopping: finishing in-flight steps (up to %.0f s)", timeout)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("controller", lambda: self.controller.stop(timeout)),
            ("live cache", self.live_cache.stop),
            ("watch connections", self.watch_source.close),
            ("event subscribers", self.events.close),
            *reversed(self._stop_hooks),
            ("HTTP server", self.server.stop),
            ("state store", self.store.close),
            ("runtime store", self.controller.runtime.close),
            ("Git cache", self.git.close),
            ("cluster connections", self.cluster.close),
        ]
        for what, step in steps:
            try:
                step()
            except Exception:
                log.exception("stopping the %s failed", what)
        log.info("stopped")

    def request_stop(self) -> None:
        """Make ``wait()`` return (as a signal does)."""
        self._wake.set()

    @contextlib.contextmanager
    def stop_signals(self) -> Iterator[None]:
        """While inside, SIGTERM and SIGINT make ``wait()`` return instead of killing the
        process (main thread only; elsewhere this does nothing). The previous handlers are
        restored on leaving, so a second Ctrl-C during the graceful stop interrupts it."""
        if threading.current_thread() is not threading.main_thread() or self._handling:
            yield
            return

        def handle(number: int, frame: object) -> None:
            # Only an assignment: the handler runs on the main thread between two bytecodes,
            # possibly while that thread holds the lock inside self._wake, so taking any lock
            # here (Event.set does) can deadlock the process. wait() polls the flag instead.
            self._signal = number

        previous = {number: signal.signal(number, handle) for number in STOP_SIGNALS}
        self._handling = True
        try:
            yield
        finally:
            self._handling = False
            for number, handler in previous.items():
                signal.signal(number, handler)

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until SIGTERM or SIGINT (the signal's number is returned), ``request_stop``
        or ``stop`` (None), or ``timeout`` (None). Catches the signals itself unless called
        inside ``stop_signals()`` already."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.stop_signals():
            while self._signal is None:
                left = SIGNAL_POLL if deadline is None else deadline - time.monotonic()
                if left <= 0 or self._wake.wait(min(SIGNAL_POLL, left)):
                    break
        if self._signal is not None:
            log.info("received %s", signal.Signals(self._signal).name)
        return self._signal

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cluster(
    env: Mapping[str, str],
    kubeconfig: str | Path | None,
    context: str | None,
    in_cluster: bool,
    namespaces: Sequence[str],
) -> Cluster:
    if in_cluster:
        if kubeconfig is not None or context is not None:
            raise ValueError("in_cluster cannot be combined with a kubeconfig or a context")
        return Cluster.in_cluster(namespaces=namespaces)
    path = kubeconfig or env.get("KUBECONFIG") or None
    return Cluster.from_kubeconfig(path, context, namespaces=namespaces)


def build_service(
    config: Config,
    *,
    env: Mapping[str, str],
    kubeconfig: str | Path | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    port: int | None = None,
    notifiers: Sequence[Callback] = (),
    mounts: Mapping[str, WSGIApplication] | None = None,
) -> Service:
    """Build (not start) the service for ``config``. ``env`` is the process environment
    (``KUBECONFIG`` when no ``kubeconfig`` is given); ``port`` overrides ``server.port``.
    Raises ClusterError (kubeconfig), StateStoreError (state file) and closes whatever it
    opened before the failure."""
    settings = config.settings
    with contextlib.ExitStack() as undo:
        cluster = _cluster(env, kubeconfig, context, in_cluster, settings.controller.namespaces)
        undo.callback(cluster.close)
        store = SQLiteStore(settings.controller.state_path)
        undo.callback(store.close)
        git = GitSource(settings.controller.cache_dir, settings.repositories)
        undo.callback(git.close)
        metrics = Metrics()
        watch_source = ClusterWatch(
            cluster,
            on_request=lambda verb, kind, code: metrics.record_kube_request(verb, code, kind),
        )
        undo.callback(watch_source.close)
        live_cache = LiveCache(watch_source)
        undo.callback(live_cache.stop)
        metrics.watch_cache(live_cache.stats)
        events = EventBus()
        undo.callback(events.close)
        controller = Controller(
            config,
            cluster=cluster,
            git=git,
            store=store,
            events=events,
            metrics=metrics,
            live_cache=live_cache,
        )
        service = Service(
            config,
            git=git,
            cluster=cluster,
            watch_source=watch_source,
            live_cache=live_cache,
            store=store,
            events=events,
            metrics=metrics,
            controller=controller,
            host=settings.server.host,
            port=settings.server.port if port is None else port,
        )
        for callback in notifiers:
            service.add_notifier(callback)
        for prefix, app in (mounts or {}).items():
            service.mount(prefix, app)
        undo.pop_all()
    return service


__all__ = [
    "DEFAULT_STOP_TIMEOUT",
    "Service",
    "build_service",
    "service_secrets",
    "setup_logging",
    "webhook_secret",
]
