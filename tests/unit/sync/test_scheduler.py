"""The scheduler's timing rule (its database behaviour is in tests/component/sweep)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ml_connector.sync.scheduler import is_due

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)


def test_never_run_is_due() -> None:
    assert is_due(None, NOW, EVERY)


def test_due_exactly_at_the_interval_and_not_before() -> None:
    assert is_due(NOW - EVERY, NOW, EVERY)
    assert not is_due(NOW - EVERY + timedelta(seconds=1), NOW, EVERY)


def test_a_clock_set_back_is_not_due() -> None:
    assert not is_due(NOW + timedelta(minutes=5), NOW, EVERY)
