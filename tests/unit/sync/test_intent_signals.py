"""In-process wake-ups for jobs waiting on a write intent."""

from __future__ import annotations

import anyio
import pytest

from ml_connector.sync.intent_signals import IntentSignals


@pytest.mark.anyio
async def test_every_waiter_wakes_when_the_intent_resolves() -> None:
    signals = IntentSignals()
    woke: list[int] = []

    async def waiter(n: int) -> None:
        # Far longer than the test can take: only `resolved` ends this wait.
        await signals.wait(7, at_most=3600)
        woke.append(n)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, 1)
        tg.start_soon(waiter, 2)
        await anyio.wait_all_tasks_blocked()
        assert len(signals) == 1
        signals.resolved(8)  # another intent: nobody wakes
        await anyio.wait_all_tasks_blocked()
        assert woke == []
        signals.resolved(7)
    assert sorted(woke) == [1, 2]
    assert len(signals) == 0


@pytest.mark.anyio
async def test_a_wait_ends_after_at_most_and_leaves_nothing_behind() -> None:
    signals = IntentSignals()
    await signals.wait(3, at_most=0.01)
    assert len(signals) == 0
    signals.resolved(3)  # nobody waiting: nothing to do
    assert len(signals) == 0


@pytest.mark.anyio
async def test_a_later_wait_is_not_woken_by_an_earlier_resolution() -> None:
    signals = IntentSignals()
    signals.resolved(5)
    with anyio.move_on_after(0.05) as scope:
        await signals.wait(5, at_most=3600)
    assert scope.cancelled_caught  # the caller's read of the intent is what sees it
