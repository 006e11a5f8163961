"""Subscriptions written as annotations on Application and AppProject documents, in Argo CD's
forms, so manifest repositories that subscribe today keep working unchanged:

* ``notifications.argoproj.io/subscribe.<trigger>.<service>: chan1;chan2`` (recipients split
  on ``;``, trimmed, empty ones dropped);
* ``notifications.argoproj.io/subscribe.<service>: chan``: the default triggers;
* ``notifications.argoproj.io/subscriptions``: a YAML list of ``{trigger: name | [names],
  destinations: [{service, recipients: [..]}]}`` (no trigger: the default triggers);
* on AppProjects only, the legacy ``[<trigger>.]recipients.argocd-notifications.argoproj.io:
  slack:chan,email:addr``.

Annotations are written by application teams, so a malformed one does not stop anything: it is
skipped and described in ``problems`` (naming the object and the annotation), for the caller
to log or show in ``kajitori check``. A trigger name may contain dots; the service is the part
after the last dot. A leading ``#`` on a Slack channel is dropped (``#deploys`` = ``deploys``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

PREFIX: Final = "notifications.argoproj.io/"
SUBSCRIBE: Final = PREFIX + "subscribe."
SUBSCRIPTIONS: Final = PREFIX + "subscriptions"
LEGACY_SUFFIX: Final = "recipients.argocd-notifications.argoproj.io"


@dataclass(frozen=True, order=True)
class Destination:
    """Where a notification goes: a ``service`` (``slack``) and its recipient, a Slack
    ``channel`` name or ID."""

    service: str
    channel: str

    def __str__(self) -> str:
        return f"{self.service}:{self.channel}"


def destination(service: str, recipient: str) -> Destination:
    """A destination with the recipient normalised (trimmed; no ``#`` for Slack)."""
    service = service.strip()
    channel = recipient.strip()
    if service == "slack":
        channel = channel.removeprefix("#")
    return Destination(service, channel)


@dataclass(frozen=True)
class AnnotationSubscription:
    """One (trigger, destination) pair from an annotation; ``trigger`` None means the
    default triggers of the destination's service."""

    trigger: str | None
    destination: Destination
    annotation: str


@dataclass
class AnnotationSubscriptions:
    """What an object's annotations subscribe, and the problems found reading them."""

    subscriptions: list[AnnotationSubscription] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def split_recipients(value: str, separator: str = ";") -> list[str]:
    return [part.strip() for part in value.split(separator) if part.strip()]


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where
        self.result = AnnotationSubscriptions()

    def problem(self, key: str, message: str) -> None:
        self.result.problems.append(f"{self.where}: annotation {key}: {message}")

    def add(self, key: str, trigger: str | None, service: str, recipients: Iterable[str]) -> None:
        if not service.strip():
            self.problem(key, "names no service")
            return
        if trigger is not None and not trigger.strip():
            self.problem(key, "names an empty trigger")
            return
        found = False
        for recipient in recipients:
            dest = destination(service, recipient)
            if dest.channel:
                found = True
                self.result.subscriptions.append(AnnotationSubscription(trigger, dest, key))
        if not found:
            self.problem(key, "lists no recipient")

    def subscribe(self, key: str, value: str) -> None:
        rest = key.removeprefix(SUBSCRIBE)
        trigger, dot, service = rest.rpartition(".")
        self.add(key, trigger if dot else None, service, split_recipients(value))

    def subscriptions(self, key: str, value: str) -> None:
        try:
            entries = yaml.safe_load(value)
        except yaml.YAMLError:
            self.problem(key, "is not valid YAML")
            return
        if entries is None:
            return
        if not isinstance(entries, list):
            self.problem(key, "must be a YAML list of {trigger, destinations}")
            return
        for index, entry in enumerate(entries):
            self.subscription_entry(f"{key}[{index}]", entry)

    def subscription_entry(self, key: str, entry: Any) -> None:
        if not isinstance(entry, Mapping):
            self.problem(key, "must be a mapping with trigger and destinations")
            return
        raw_triggers = entry.get("trigger")
        if raw_triggers is None or raw_triggers == []:
            triggers: list[str | None] = [None]
        elif isinstance(raw_triggers, str):
            triggers = [raw_triggers]
        elif isinstance(raw_triggers, list) and all(isinstance(t, str) for t in raw_triggers):
            triggers = list(raw_triggers)
        else:
            self.problem(key, "trigger must be a name or a list of names")
            return
        destinations = entry.get("destinations")
        if not isinstance(destinations, list) or not destinations:
            self.problem(key, "destinations must be a non-empty list of {service, recipients}")
            return
        for index, dest in enumerate(destinations):
            where = f"{key}.destinations[{index}]"
            recipients = dest.get("recipients") if isinstance(dest, Mapping) else None
            service = dest.get("service") if isinstance(dest, Mapping) else None
            if not isinstance(service, str) or not isinstance(recipients, list):
                self.problem(where, "must be {service: name, recipients: [..]}")
                continue
            for trigger in triggers:
                self.add(where, trigger, service, [str(r) for r in recipients])

    def legacy(self, key: str, value: str) -> None:
        head = key.removesuffix(LEGACY_SUFFIX).removesuffix(".")
        trigger = head or None
        for item in split_recipients(value, ","):
            service, colon, recipient = item.partition(":")
            if not colon:
                self.problem(key, f"recipient {item!r} must read <service>:<recipient>")
                continue
            self.add(key, trigger, service, [recipient])


def read_annotations(
    annotations: Mapping[str, Any], *, where: str, legacy: bool = False
) -> AnnotationSubscriptions:
    """The subscriptions in an object's ``annotations``; ``where`` names the object in
    problems (``Application guestbook``); ``legacy`` also reads the legacy project form."""
    reader = _Reader(where)
    for key in sorted(annotations):
        value = annotations[key]
        if not isinstance(key, str):
            continue
        relevant = key.startswith(SUBSCRIBE) or key == SUBSCRIPTIONS
        relevant = relevant or (legacy and key.endswith(LEGACY_SUFFIX))
        if not relevant:
            continue
        if not isinstance(value, str):
            reader.problem(key, "must be a string")
        elif key.startswith(SUBSCRIBE):
            reader.subscribe(key, value)
        elif key == SUBSCRIPTIONS:
            reader.subscriptions(key, value)
        else:
            reader.legacy(key, value)
    return reader.result
