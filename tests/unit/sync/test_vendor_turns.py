"""Vendor creations take turns per connection, parked while they wait, and a process
vouches for its vendor list only while nothing but its own turns changed it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from ml_connector.core.model import RampVendorRef
from ml_connector.queue import parking
from ml_connector.sync.vendor_turns import VendorTurns

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _vendors(*names: str) -> tuple[RampVendorRef, ...]:
    return tuple(RampVendorRef(id=f"v-{n}", name=n) for n in names)


async def test_turns_go_in_arrival_order_and_only_latecomers_wait() -> None:
    turns = VendorTurns()
    order: list[tuple[str, bool]] = []
    first_in = anyio.Event()
    release = anyio.Event()

    async def job(name: str, job_id: int) -> None:
        async with turns.turn(7, job_id=job_id) as turn:
            order.append((name, turn.waited, turn.behind_job_id))
            first_in.set()
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(job, "a", 1)
        await first_in.wait()
        tg.start_soon(job, "b", 2)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(job, "c", 3)
        await anyio.wait_all_tasks_blocked()
        async with turns.turn(8) as other_connection:
            assert not other_connection.waited  # another connection's turn is its own
        release.set()
    # Each latecomer is handed the turn by the job just before it.
    assert order == [("a", False, None), ("b", True, 1), ("c", True, 2)]
    assert len(turns) == 0  # nothing kept once nobody holds or waits


async def test_a_job_waiting_for_its_turn_lends_its_worker_slot() -> None:
    turns = VendorTurns()
    lent: list[str] = []

    @asynccontextmanager
    async def lend() -> AsyncIterator[None]:
        lent.append("lent")
        yield
        lent.append("back")

    holding = anyio.Event()
    release = anyio.Event()

    async def holder() -> None:
        async with turns.turn(1):
            holding.set()
            await release.wait()

    async def waiter() -> None:
        parking.install(lend)
        async with turns.turn(1) as turn:
            assert turn.waited

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await holding.wait()
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert lent == ["lent"]  # lent while it waits ...
        release.set()
    assert lent == ["lent", "back"]  # ... and taken back once it has its turn


def test_a_list_is_vouched_for_only_as_it_was_left() -> None:
    turns = VendorTurns(trust_for=timedelta(seconds=5))
    listed = _vendors("Acme", "Zoom")
    turns.record(3, listed, intent_id=41, read_at=T0)

    assert turns.knows(3, listed, previous_intent_id=41, now=T0 + timedelta(seconds=5)) == T0
    # Another process's vendor write came after ours: its vendor is not in our list.
    assert turns.knows(3, listed, previous_intent_id=42, now=T0) is None
    # The cache was re-read or replaced since (an equal list is not the same list).
    assert turns.knows(3, _vendors("Acme", "Zoom"), previous_intent_id=41, now=T0) is None
    # Too long since Ramp was read: a vendor added in Ramp's UI may be missing.
    assert turns.knows(3, listed, previous_intent_id=41, now=T0 + timedelta(seconds=6)) is None
    # Nothing recorded for this connection, or recorded without a cached list.
    assert turns.knows(4, listed, previous_intent_id=41, now=T0) is None
    turns.record(3, None, intent_id=43, read_at=T0)
    assert turns.knows(3, listed, previous_intent_id=43, now=T0) is None
