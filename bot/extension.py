"""The bot plugged into ``kajitori run``: Slack commands, notifications and GitHub statuses.

``reconciler.service_extensions.SERVICE_EXTENSIONS`` names the two functions here;
``kajitori run`` (and ``kajitori demo``, the same way) calls them on the built service before
starting it, so the reconciler never imports the bot:

- :func:`attach_slack`, when the settings have a ``slack`` section with a bot token: the Slack
  app on the controller (``bot.app.create_app``), served at ``/slack/events`` on the service's
  port in HTTP mode or connected over Socket Mode while the service runs; and the notifier
  (``bot.notify``: triggers, templates, subscriptions of the ``notifications`` section) with
  its Slack delivery, its state in ``<state file>.notifications.db`` next to the reconciler's
  state file. The bot posts approval requests itself (``bot.approvals``: Approve / Reject
  buttons; the messages are kept in the controller's runtime store), so the notifier's
  ``on-approval-required`` trigger is silenced to avoid a second message; and it replies in
  a confirmed rollback's thread once the revert is merged and deployed
  (``bot.rollback_completion``). Without Slack it
  does nothing and the service stays headless (it logs what it
  would have notified).
- :func:`attach_github`, when the ``github`` section has a token and statuses are on: a commit
  status on every manifest commit kajitori syncs (``reconciler.commit_status``). This needs no
  Slack.

The bot token is checked once with ``auth.test`` before anything starts: a token Slack
refuses stops start-up with Slack's error code (never the token); a Slack that cannot be
reached is only logged, so a Slack outage does not keep the reconciler from running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Final

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.app import (
    SLACK_API_URL,
    SLACK_EVENTS_PATH,
    create_app,
    make_web_client,
    runtime_of,
    shutdown,
)
from bot.app import wsgi_app as slack_wsgi_app
from bot.approvals import ApprovalMessenger
from bot.approvals_store import ApprovalMessages
from bot.notify.delivery import SlackDelivery
from bot.notify.delivery_slack import make_client
from bot.notify.notifier import DEFAULT_RESYNC_INTERVAL, Notifier
from bot.notify.notify_settings import parse_notification_settings
from bot.notify.state import SQLiteNotificationStore
from bot.notify.subscriptions import NotificationSettings
from bot.notify.triggers_model import Trigger
from bot.rollback_completion import RollbackCompletionMessenger
from bot.rollback_threads import RollbackThreads
from bot.settings import HTTP_MODE, BotSettings, parse_bot_settings
from bot.socket import SlackConnectionError, start_socket_mode, stop_socket_mode
from reconciler.commit_status import start_commit_statuses
from reconciler.config import Config
from reconciler.github import GitHubClient
from reconciler.github_settings import github_settings
from reconciler.service import Service

log = logging.getLogger("bot")

# The catalog trigger whose message the bot's own approval request (with buttons) replaces.
APPROVAL_TRIGGER: Final = "on-approval-required"
NOTIFICATION_STORE_SUFFIX: Final = ".notifications.db"
# The drift trigger's debounce knob (bot.notify.triggers_catalog); see resync_interval.
DEBOUNCE_CONTEXT_KEY: Final = "outOfSyncDebounceSeconds"
MIN_RESYNC_INTERVAL: Final = 1.0
# Slack's answers to auth.test that mean the token itself is wrong (not a passing outage).
_BAD_TOKEN_ERRORS: Final = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)

__all__ = [
    "attach_github",
    "attach_slack",
    "notification_store_path",
    "resync_interval",
    "without_approval_trigger",
]


def notification_store_path(state_path: Path) -> str:
    """Where notification state lives: next to the reconciler's state file
    (``state.db`` → ``state.notifications.db``); in memory when that is in memory."""
    if str(state_path) == ":memory:":
        return ":memory:"
    return str(state_path.with_name(state_path.stem + NOTIFICATION_STORE_SUFFIX))


def resync_interval(settings: NotificationSettings) -> float:
    """How often the notifier re-evaluates every app. Argo's 60 s, unless the drift debounce
    (``context.outOfSyncDebounceSeconds``) is shorter: a drift is then reported about one
    debounce after it began, not up to a minute later (half the debounce, at least 1 s)."""
    debounce = settings.context.get(DEBOUNCE_CONTEXT_KEY)
    if isinstance(debounce, bool) or not isinstance(debounce, int | float | str):
        return DEFAULT_RESYNC_INTERVAL
    try:
        seconds = float(debounce)
    except ValueError:
        return DEFAULT_RESYNC_INTERVAL
    if not seconds > 0:
        return DEFAULT_RESYNC_INTERVAL
    return min(DEFAULT_RESYNC_INTERVAL, max(MIN_RESYNC_INTERVAL, seconds / 2))


def _check_token(client: WebClient, api_url: str) -> None:
    """``auth.test``: SlackConnectionError when Slack refuses the token; a warning when Slack
    cannot be reached (the bot retries on its own later)."""
    try:
        client.auth_test()
    except SlackApiError as error:
        code = str(error.response.get("error") or error.response.status_code)
        if code in _BAD_TOKEN_ERRORS:
            raise SlackConnectionError(
                f"Slack refused the bot token (slack.botToken): {code}"
            ) from None
        log.warning("Slack's auth.test failed (%s); going on", code)
    except (SlackClientError, OSError) as error:
        log.warning(
            "Slack is not reachable at %s (%s); commands and notifications start once it is",
            api_url,
            type(error).__name__,
        )


def _attach_commands(service: Service, settings: BotSettings) -> None:
    """The Slack app: HTTP mode mounted on the service's port, Socket Mode connected while
    the service runs."""
    slack = settings.slack
    api_url = slack.api_url or SLACK_API_URL
    client = make_web_client(settings, api_url=api_url)
    _check_token(client, api_url)
    messages = ApprovalMessages(service.controller.runtime)
    app = create_app(
        settings, service.controller, client=client, verify_token=False, approvals=messages
    )
    service.on_stop(lambda: shutdown(app), "Slack command workers")
    messenger = ApprovalMessenger(runtime_of(app), messages)
    service.events.subscribe(messenger.handle, "slack-approvals", types=messenger.types)
    completion = RollbackCompletionMessenger(runtime_of(app), RollbackThreads(messages.table))
    service.events.subscribe(completion.handle, "slack-rollbacks", types=completion.types)
    if slack.mode == HTTP_MODE:
        service.mount(SLACK_EVENTS_PATH, slack_wsgi_app(app), strip_prefix=False)
        log.info("Slack: HTTP mode, requests from Slack at %s", SLACK_EVENTS_PATH)
        return
    closers: list[Callable[[], object]] = []

    def connect() -> None:
        handler = start_socket_mode(app, settings)
        closers.append(lambda: stop_socket_mode(handler))
        log.info("Slack: connected over Socket Mode")

    def disconnect() -> None:
        while closers:
            closers.pop()()

    service.on_start(connect, "Slack Socket Mode")
    service.on_stop(disconnect, "Slack Socket Mode")


def without_approval_trigger(settings: NotificationSettings) -> NotificationSettings:
    """``settings`` with the ``on-approval-required`` trigger silenced (kept, so the
    subscriptions naming it stay valid, but with no condition, so it never fires): the bot
    posts the approval request itself, with its Approve / Reject buttons, and one message is
    enough."""
    if APPROVAL_TRIGGER not in settings.triggers:
        return settings
    triggers = {**settings.triggers, APPROVAL_TRIGGER: Trigger(APPROVAL_TRIGGER, ())}
    return replace(settings, triggers=triggers)


def _attach_notifications(
    service: Service, config: Config, settings: BotSettings, notifications: NotificationSettings
) -> None:
    """The notifier on the event bus, delivering to Slack from a sender thread."""
    token = settings.slack.bot_token
    assert token is not None  # attach_slack only gets here with a bot token
    store = SQLiteNotificationStore(notification_store_path(config.settings.controller.state_path))
    service.on_stop(store.close, "notification store")
    client = make_client(token.reveal(), base_url=settings.slack.api_url or SLACK_API_URL)
    delivery = SlackDelivery(client, store)
    notifier = Notifier(
        notifications,
        service.controller,
        store,
        delivery,
        projects=config.projects.get,
        resync_interval=resync_interval(notifications),
    )
    service.add_notifier(notifier.handle, "slack")
    service.on_start(delivery.start, "notification delivery")
    service.on_start(notifier.start, "notification resync")
    service.on_stop(delivery.stop, "notification delivery")
    service.on_stop(notifier.stop, "notification resync")


def attach_slack(service: Service, config: Config, *, env: Mapping[str, str]) -> None:
    """Plug the Slack bot and its notifications into ``service`` (module docstring); nothing
    when the settings do not connect Slack. ConfigError for bad ``slack``, ``rbac`` or
    ``notifications`` settings, SlackConnectionError for a token Slack refuses."""
    settings = parse_bot_settings(
        config.settings,
        source=str(config.path),
        apps=list(config.applications),
        projects=list(config.projects),
    )
    if not settings.slack.connected:
        log.info("Slack is not configured: notifications are logged instead")
        return
    notifications = parse_notification_settings(
        config.settings.notifications, source=str(config.path)
    )
    _attach_commands(service, settings)
    _attach_notifications(service, config, settings, without_approval_trigger(notifications))


def attach_github(service: Service, config: Config, *, env: Mapping[str, str]) -> None:
    """Commit statuses on the synced manifest commits when the ``github`` settings have a
    token and statuses are on; nothing otherwise. ConfigError for bad ``github`` settings."""
    settings = github_settings(config.settings, source=str(config.path))
    if not settings.api_enabled or not settings.statuses:
        return
    client = GitHubClient.from_settings(settings)
    service.on_stop(client.close, "GitHub client")

    def repo_url_of(app: str) -> str | None:
        found = config.applications.get(app)
        return found.spec.source.repo_url if found is not None else None

    start_commit_statuses(service.events, client, settings, repo_url_of)
    log.info("GitHub: commit statuses on synced commits (%s)", settings.base_url)
