"""Run-time switches of automated sync and self-heal, on top of each app's spec.

``/toggle-selfheal`` and rollback's pause change what an app does without editing its
configuration: the switch (value, who, when) is persisted in the runtime store, cached here,
and wins over ``spec.syncPolicy.automated`` until switched again. Switching auto-sync on for
an app whose spec has no automated policy gives it the default one (no prune, no self-heal).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from reconciler.model import Application, Automated
from reconciler.state_runtime import AUTO_SYNC, SELF_HEAL, Override, RuntimeStore


class Switches:
    """The apps' run-time switches (module docstring). Thread-safe."""

    def __init__(self, runtime: RuntimeStore) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Override]] = {}

    def of(self, app: str) -> dict[str, Override]:
        """The app's switches by name (autoSync, selfHeal), as set; {} when none."""
        with self._lock:
            cached = self._cache.get(app)
        if cached is None:
            cached = self._runtime.overrides(app)
            with self._lock:
                cached = self._cache.setdefault(app, cached)
        return dict(cached)

    def set(self, app: str, override: Override) -> None:
        """Persist a switch, then use it."""
        self._runtime.set_override(app, override)
        with self._lock:
            self._cache.setdefault(app, {})[override.name] = override

    def automated(self, app: Application) -> Automated | None:
        """The automated policy in effect: the spec's, changed by the switches."""
        switches = self.of(app.name)
        spec = app.spec.sync_policy.automated
        enabled = switches[AUTO_SYNC].enabled if AUTO_SYNC in switches else spec is not None
        if not enabled:
            return None
        policy = spec or Automated()
        if SELF_HEAL in switches:
            policy = replace(policy, self_heal=switches[SELF_HEAL].enabled)
        return policy

    def self_heal(self, app: Application) -> bool:
        """The self-heal switch (run-time, else the spec), whether or not auto-sync is on."""
        switch = self.of(app.name).get(SELF_HEAL)
        if switch is not None:
            return switch.enabled
        spec = app.spec.sync_policy.automated
        return spec is not None and spec.self_heal


__all__ = ["Switches"]
