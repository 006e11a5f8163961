"""Service extensions: features plugged into a built ``kajitori run`` service by name.

The reconciler must not import the Slack bot (the bot depends on it, never the reverse), yet
``kajitori run`` has to start the bot when the settings connect Slack. So the run command (and
``kajitori demo``, the same way) calls :func:`attach_extensions` on the built, not yet started
:class:`~reconciler.service.Service`: each entry of ``SERVICE_EXTENSIONS`` names a function
``"package.module:function"`` that is imported only then, the way ``reconciler.cli`` names its
command modules. An extension mounts WSGI apps (``Service.mount``), subscribes notifiers
(``Service.add_notifier``) and joins the lifecycle (``Service.on_start``/``on_stop``); one
that has nothing to do for the settings returns without touching the service.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from reconciler.config import Config
    from reconciler.service import Service

# What `kajitori run` plugs into every service, in this order.
SERVICE_EXTENSIONS: Final = ("bot.extension:attach_github", "bot.extension:attach_slack")


class ServiceExtension(Protocol):
    """Plugs a feature into a built (not started) service: mounts, notifiers, lifecycle."""

    def __call__(self, service: Service, config: Config, *, env: Mapping[str, str]) -> None: ...


def load_extension(spec: str) -> ServiceExtension:
    """The function ``spec`` names as ``"package.module:function"``. ValueError for a
    malformed name, ImportError or AttributeError when it does not exist, TypeError when it
    is not callable."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError(f"service extension {spec!r}: expected 'package.module:function'")
    found = getattr(importlib.import_module(module_name), attribute)
    if not callable(found):
        raise TypeError(f"service extension {spec!r} is not callable")
    extension: ServiceExtension = found
    return extension


def attach_extensions(
    service: Service,
    config: Config,
    *,
    env: Mapping[str, str],
    extensions: Sequence[str] = SERVICE_EXTENSIONS,
) -> None:
    """Run each extension on ``service`` before it starts. Their errors (ConfigError for bad
    settings, KajitoriError for an outside system that refuses) propagate; the caller then
    stops the service, which undoes what was attached (``on_stop`` hooks run)."""
    for spec in extensions:
        load_extension(spec)(service, config, env=env)


__all__ = ["SERVICE_EXTENSIONS", "ServiceExtension", "attach_extensions", "load_extension"]
