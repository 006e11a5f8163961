"""KubeEmulator: the Kubernetes API server emulator as one object to start, use and stop.

It owns the store, the simulated controllers, the audit log and fault rules, and an HTTP
server on a background thread. Tests use it as a context manager on a free port; the CLI
runs it until interrupted. ``write_kubeconfig`` writes a kubeconfig (context
``kajitori-sandbox``, a dummy bearer token) that kubectl and ``kubernetes.config`` accept.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import yaml

from sandbox.kube.control import AuditLog, Faults
from sandbox.kube.server import Application, KubeHTTPServer
from sandbox.kube.store import Store

log = logging.getLogger("sandbox.kube")

CONTEXT = "kajitori-sandbox"
TOKEN = "kajitori-sandbox-token"


class _Controllers(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reset(self) -> None: ...


class KubeEmulator:
    """A Kubernetes API server emulator on ``host:port`` (port 0: a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        time_factor: float = 1.0,
        history_size: int = 10000,
    ) -> None:
        self.host = host
        self.port = port
        self._time_factor = float(time_factor)
        self.store = Store(history_size=history_size)
        self.audit = AuditLog()
        self.faults = Faults()
        self.app = Application(
            self.store,
            self.audit,
            self.faults,
            self.reset,
            lambda: self.time_factor,
            self._set_time_factor,
        )
        self._server: KubeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._controllers: _Controllers | None = None

    # -- time factor -------------------------------------------------------------------

    @property
    def time_factor(self) -> float:
        """The factor every simulated controller delay is multiplied by."""
        return self._time_factor

    @time_factor.setter
    def time_factor(self, value: float) -> None:
        self._set_time_factor(value)

    def _set_time_factor(self, value: float) -> None:
        if value < 0:
            raise ValueError("time factor must not be negative")
        self._time_factor = float(value)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> KubeEmulator:
        """Listen and serve on a background thread; start the controllers. Returns self."""
        if self._server is not None:
            return self
        self.store.history.reopen()
        server = KubeHTTPServer((self.host, self.port), self.app)
        self.port = server.server_address[1]
        self.app.server_address = f"{self.host}:{self.port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"kube-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if self._controllers is None:
            self._controllers = self._make_controllers()
        if self._controllers is not None:
            self._controllers.start()
        return self

    def _make_controllers(self) -> _Controllers | None:
        try:
            from sandbox.kube.controllers import Controllers
        except ModuleNotFoundError as err:
            if err.name != "sandbox.kube.controllers":
                raise
            log.warning("sandbox.kube.controllers is missing: no simulated controllers")
            return None
        controllers: _Controllers = Controllers(self.store, lambda: self.time_factor)
        return controllers

    def stop(self) -> None:
        """Stop serving, end open watches and connections, stop the controllers."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._controllers is not None:
            self._controllers.stop()
        self.store.close()
        server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- using it ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server URL, e.g. ``http://127.0.0.1:43121``."""
        return f"http://{self.host}:{self.port}"

    def kubeconfig(self) -> dict[str, Any]:
        """The kubeconfig document for this emulator."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": {"token": TOKEN}}],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"},
                }
            ],
            "current-context": CONTEXT,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write the kubeconfig to ``path`` (parents created); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        return target

    def audit_log(self) -> list[dict[str, Any]]:
        """Every mutating request so far, oldest first."""
        return self.audit.records()

    def reset(self) -> None:
        """Back to a fresh cluster: default namespaces only, empty audit, no faults, no
        pending controller work. The resourceVersion keeps counting."""
        if self._controllers is not None:
            self._controllers.reset()
        self.store.reset()
        if self._controllers is not None:
            # work that was running during the store reset may have queued follow-ups
            self._controllers.reset()
        self.audit.clear()
        self.faults.clear()
