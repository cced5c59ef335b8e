"""When a sync job may plan from the object its backfill page listed, and when it must
fetch it again (`sync.snapshots`); and the vendor-terms cache that spares a listing per
bill."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import pytest

from ml_connector.clients.freshbooks import models as fbwire
from ml_connector.core.model import FreshBooksKind
from ml_connector.queue import Job, JobState
from ml_connector.sync import snapshots
from ml_connector.sync.planning import VendorTermsCache

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "code": "USD"}


def line(n: int, unit_cost: str) -> dict[str, Any]:
    return {
        "id": n,
        "list_index": n,
        "description": f"line {n}",
        "quantity": "1",
        "unit_cost": money(unit_cost),
        "amount": money(unit_cost),
        "category": {"categoryid": 5, "category": "Office"},
    }


BILL: dict[str, Any] = {
    "id": 7,
    "vendorid": 3,
    "bill_number": "INV-7",
    "issue_date": "2026-10-09",
    "due_offset_days": 30,
    "currency_code": "USD",
    "status": "partial",
    "amount": money("375.00"),
    "total_amount": money("375.00"),
    "paid": money("100.00"),
    "outstanding": money("275.00"),
    "lines": [line(1, "125.00"), line(2, "250.00")],
    "bill_payments": [
        {"id": 1, "billid": 7, "amount": money("100.00"), "paid_date": "2026-10-20"},
        {"id": 2, "billid": 7, "amount": money("40.00"), "paid_date": "2026-10-21", "vis_state": 1},
    ],
    "vendor": {"vendorid": 3, "vendor_name": "Acme Paper", "updated_at": "2026-10-01 10:00:00"},
    "updated_at": "2026-10-21 15:30:00",
    "vis_state": 0,
}

EXPENSE: dict[str, Any] = {
    "expenseid": 11,
    "categoryid": 5,
    "amount": money("42.10"),
    "date": "2026-10-03",
    "vendor": "Blue Bottle",
    "updated": "2026-10-03 12:00:00",
    "taxName1": "GST",
    "taxPercent1": "5",
    "taxAmount1": money("2.10"),
    "vis_state": 0,
}


def job(
    kind: FreshBooksKind, raw: Any, *, fb_id: str, attempts: int = 1, replays: int = 0,
    coalesced: int = 0,
) -> Job:  # fmt: skip
    return Job(
        id=1, kind=f"sync.{kind.value}", queue="default", connection_id=1,
        args={"connection_id": 1, "fb_id": fb_id, "source": "backfill",
              snapshots.SNAPSHOT_ARG: raw},
        state=JobState.RUNNING, priority=3, attempts=attempts, max_attempts=8,
        scheduled_at=T0, lease_owner="w", lease_until=T0, lock_key=None, unique_key=None,
        coalesced=coalesced, last_error=None, errors=[], replays=replays, replayed_by=None,
        created_at=T0, attempted_at=T0, finalized_at=None,
    )  # fmt: skip


def listed_bill(raw: dict[str, Any] = BILL) -> dict[str, Any]:
    """The bill as the backfill stores it: parsed from FreshBooks, dumped as JSON."""
    return snapshots.to_arg(fbwire.Bill.model_validate(raw))


@pytest.mark.parametrize(
    ("kind", "model", "raw", "fb_id"),
    [
        (FreshBooksKind.BILL, fbwire.Bill, BILL, "7"),
        (FreshBooksKind.EXPENSE, fbwire.Expense, EXPENSE, "11"),
        (FreshBooksKind.VENDOR, fbwire.BillVendor, BILL["vendor"], "3"),
    ],
)
def test_a_stored_snapshot_plans_exactly_what_a_fetch_would(
    kind: FreshBooksKind, model: Any, raw: dict[str, Any], fb_id: str
) -> None:
    fetched = model.model_validate(raw)
    assert snapshots.from_job(job(kind, snapshots.to_arg(fetched), fb_id=fb_id), kind) == fetched


@pytest.mark.parametrize(
    "changes", [{"replays": 1}, {"coalesced": 1}], ids=["a replay", "a later change"]
)
def test_a_replay_or_an_announced_change_reads_freshbooks_again(changes: dict[str, int]) -> None:
    stale = job(FreshBooksKind.BILL, listed_bill(), fb_id="7", **changes)
    assert snapshots.from_job(stale, FreshBooksKind.BILL) is None


def test_a_retry_nothing_was_announced_for_still_uses_the_listing() -> None:
    retry = job(FreshBooksKind.BILL, listed_bill(), fb_id="7", attempts=3)
    assert snapshots.from_job(retry, FreshBooksKind.BILL) is not None


def _without_lines(raw: dict[str, Any]) -> None:
    raw["lines"] = []


def _one_line_short(raw: dict[str, Any]) -> None:
    raw["lines"] = raw["lines"][:1]


def _payments_left_out(raw: dict[str, Any]) -> None:
    raw["bill_payments"] = []


def _vendor_left_out(raw: dict[str, Any]) -> None:
    del raw["vendor"]


def _line_without_amount(raw: dict[str, Any]) -> None:
    del raw["lines"][0]["amount"]


@pytest.mark.parametrize(
    "damage",
    [_without_lines, _one_line_short, _payments_left_out, _vendor_left_out, _line_without_amount],
)
def test_a_bill_the_listing_did_not_give_in_full_is_fetched(damage: Any) -> None:
    raw = copy.deepcopy(BILL)
    damage(raw)
    partial = job(FreshBooksKind.BILL, listed_bill(raw), fb_id="7")
    assert snapshots.from_job(partial, FreshBooksKind.BILL) is None
    assert snapshots.from_job(
        job(FreshBooksKind.BILL, listed_bill(), fb_id="7"), FreshBooksKind.BILL
    )


@pytest.mark.parametrize(
    ("raw", "fb_id", "kind"),
    [
        ({"id": "not a bill"}, "7", FreshBooksKind.BILL),
        ("a string", "7", FreshBooksKind.BILL),
        (None, "7", FreshBooksKind.BILL),
        (BILL, "8", FreshBooksKind.BILL),  # another object's snapshot
        (EXPENSE, "11", FreshBooksKind.BILL),  # the wrong kind of object
    ],
)
def test_anything_unexpected_falls_back_to_the_fetch(raw: Any, fb_id: str, kind: Any) -> None:
    assert snapshots.from_job(job(kind, raw, fb_id=fb_id), kind) is None


# --- the vendor-terms cache ------------------------------------------------------------


class FakeBills:
    def __init__(self, rows: list[fbwire.Bill], calls: list[str]) -> None:
        self._rows = rows
        self._calls = calls

    async def list(self, search: Any) -> AsyncIterator[fbwire.Bill]:
        self._calls.append(str(search))
        await anyio.sleep(0.01)  # long enough for concurrent callers to pile up
        for row in self._rows:
            yield row


class FakeFreshBooks:
    def __init__(self, rows: list[fbwire.Bill]) -> None:
        self.rows = rows
        self.calls: list[str] = []

    def bills(self, account_id: str) -> FakeBills:
        return FakeBills(self.rows, self.calls)


def bill(bill_id: int, issued: date, offset: int, vis_state: int = 0) -> fbwire.Bill:
    return fbwire.Bill.model_validate(
        {"id": bill_id, "vendorid": 3, "issue_date": issued.isoformat(),
         "due_offset_days": offset, "currency_code": "USD", "vis_state": vis_state}
    )  # fmt: skip


@pytest.mark.anyio
async def test_one_listing_per_vendor_serves_every_bill_until_it_expires() -> None:
    now = [T0]
    cache = VendorTermsCache(lambda: now[0], ttl=timedelta(minutes=5))
    fb: Any = FakeFreshBooks(
        [
            bill(1, date(2026, 9, 1), 30),
            bill(2, date(2026, 10, 1), 45),
            bill(3, date(2026, 8, 1), 15),
            bill(4, date(2026, 11, 1), 60, vis_state=1),  # deleted: never counts
        ]
    )
    results: dict[str, list[int]] = {}

    async def offsets(excluding: str) -> None:
        results[excluding] = await cache.recent_offsets(1, fb, "acct", "3", excluding=excluding)

    async with anyio.create_task_group() as tg:
        for bill_id in ("1", "2", "3", "9"):
            tg.start_soon(offsets, bill_id)
    assert len(fb.calls) == 1
    assert results == {"1": [45, 15], "2": [30, 15], "3": [45, 30], "9": [45, 30, 15]}

    now[0] += timedelta(minutes=4)
    await cache.recent_offsets(1, fb, "acct", "3", excluding="1")
    await cache.recent_offsets(2, fb, "acct", "3", excluding="1")  # another connection
    assert len(fb.calls) == 2
    now[0] += timedelta(minutes=2)
    await cache.recent_offsets(1, fb, "acct", "3", excluding="1")
    assert len(fb.calls) == 3
