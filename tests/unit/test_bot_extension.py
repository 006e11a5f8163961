"""The pure helpers of ``bot.extension``: where notification state lives and how often the
notifier re-evaluates apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.extension import notification_store_path, resync_interval
from bot.notify.notifier import DEFAULT_RESYNC_INTERVAL
from bot.notify.notify_settings import parse_notification_settings


def test_notification_state_lives_next_to_the_state_file() -> None:
    assert notification_store_path(Path("/var/lib/kajitori/state.db")) == (
        "/var/lib/kajitori/state.notifications.db"
    )
    assert notification_store_path(Path(".kajitori/kajitori")) == (
        ".kajitori/kajitori.notifications.db"
    )
    assert notification_store_path(Path(":memory:")) == ":memory:"


@pytest.mark.parametrize(
    ("debounce", "interval"),
    [
        (None, DEFAULT_RESYNC_INTERVAL),  # Argo's resync
        (120, DEFAULT_RESYNC_INTERVAL),  # the default debounce: no faster than 60 s
        (30, 15.0),
        ("10", 5.0),  # ConfigMap-style strings count too
        (1, 1.0),  # never more often than every second
        (0, DEFAULT_RESYNC_INTERVAL),
        ("soon", DEFAULT_RESYNC_INTERVAL),
        (True, DEFAULT_RESYNC_INTERVAL),
    ],
)
def test_resync_keeps_up_with_a_short_drift_debounce(debounce: Any, interval: float) -> None:
    context = {} if debounce is None else {"outOfSyncDebounceSeconds": debounce}
    settings = parse_notification_settings({"context": context})
    assert resync_interval(settings) == interval
