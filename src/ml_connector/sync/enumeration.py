"""Listing FreshBooks for the backfill and the sweep: which collections, in which order,
and what each listed object looks like to a reconciler.

Both producers page through the same four collections and reduce every object to an
`Observation` — its id and a version string that changes whenever FreshBooks changes
the object (its `updated_at`, plus `vis_state`, because a delete or archive must count
as a change even if a timestamp were not bumped). Objects without a timestamp fall back
to a digest of their content, so they are never invisible to the sweep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ml_connector.clients.freshbooks import FreshBooksClient, Page, Search
from ml_connector.sync.kinds import OBJECT_KINDS, Kind

PER_PAGE = 100
"""FreshBooks' cap: the fewest list calls per object."""

BACKFILL_KEY = "backfill"
SWEEP_KEY = "sweep"
SCHEDULE_KEY = "schedule"
"""`store.sync_state` keys of the backfill run, the sweep watermark and the scheduler."""


@dataclass(frozen=True, kw_only=True)
class Observation:
    """One listed FreshBooks object, as the reconcilers compare it."""

    fb_id: str
    version: str
    updated_at: datetime | None
    vis_state: int
    wire: BaseModel | None = field(default=None, compare=False, repr=False)
    """The listed object itself, for a sync job to plan from (`sync.snapshots`)."""


Lister = Callable[[FreshBooksClient, str, int, Search | None], Awaitable[Page[Observation]]]


@dataclass(frozen=True, kw_only=True)
class Collection:
    """A FreshBooks collection the connector syncs from."""

    name: str
    """Stable name used in checkpoints and progress (`bill_vendors`, `bills`, …)."""
    kind: Kind
    """The object-sync job each listed object gets."""
    event_noun: str
    """The FreshBooks webhook noun (`bill` in `bill.update`)."""
    list_page: Lister

    @property
    def fb_type(self) -> str:
        return OBJECT_KINDS[self.kind]


def observe(
    model: BaseModel, fb_id: int, updated_at: datetime | None, vis_state: int
) -> Observation:
    if updated_at is not None:
        stamp = updated_at.isoformat()
    else:
        stamp = "sha256:" + hashlib.sha256(model.model_dump_json().encode()).hexdigest()[:32]
    return Observation(
        fb_id=str(fb_id),
        version=f"{stamp}|{vis_state}",
        updated_at=updated_at,
        vis_state=vis_state,
        wire=model,
    )


def _observed_page(page: Page[Any], items: Sequence[Observation]) -> Page[Observation]:
    return Page(
        items=items, page=page.page, pages=page.pages, per_page=page.per_page, total=page.total
    )


async def _vendors(
    fb: FreshBooksClient, account_id: str, number: int, search: Search | None
) -> Page[Observation]:
    page = await fb.bill_vendors(account_id).page(number, search=search, per_page=PER_PAGE)
    items = [observe(v, v.vendorid, v.updated_at, v.vis_state) for v in page.items]
    return _observed_page(page, items)


async def _bills(
    fb: FreshBooksClient, account_id: str, number: int, search: Search | None
) -> Page[Observation]:
    # The vendor rides along so that a bill's sync can plan from this listing alone.
    page = await fb.bills(account_id).page(
        number, search=search, include=("vendor",), per_page=PER_PAGE
    )
    items = [observe(b, b.id, b.updated_at, b.vis_state) for b in page.items]
    return _observed_page(page, items)


async def _expenses(
    fb: FreshBooksClient, account_id: str, number: int, search: Search | None
) -> Page[Observation]:
    page = await fb.expenses(account_id).page(number, search=search, per_page=PER_PAGE)
    items = [observe(e, e.expenseid, e.updated, e.vis_state) for e in page.items]
    return _observed_page(page, items)


async def _categories(
    fb: FreshBooksClient, account_id: str, number: int, search: Search | None
) -> Page[Observation]:
    page = await fb.categories(account_id).page(number, search=search, per_page=PER_PAGE)
    items = [observe(c, c.categoryid, c.updated_at, c.vis_state) for c in page.items]
    return _observed_page(page, items)


CATEGORIES = Collection(
    name="categories", kind=Kind.SYNC_CATEGORY, event_noun="category", list_page=_categories
)
BILL_VENDORS = Collection(
    name="bill_vendors", kind=Kind.SYNC_VENDOR, event_noun="bill_vendor", list_page=_vendors
)
BILLS = Collection(name="bills", kind=Kind.SYNC_BILL, event_noun="bill", list_page=_bills)
EXPENSES = Collection(
    name="expenses", kind=Kind.SYNC_EXPENSE, event_noun="expense", list_page=_expenses
)

COLLECTIONS: tuple[Collection, ...] = (CATEGORIES, BILL_VENDORS, BILLS, EXPENSES)
"""Dependency order: categories before what is coded with them, vendors before bills."""

BY_NAME = {c.name: c for c in COLLECTIONS}
BY_NOUN = {c.event_noun: c for c in COLLECTIONS}

__all__ = [
    "BACKFILL_KEY",
    "BILLS",
    "BILL_VENDORS",
    "BY_NAME",
    "BY_NOUN",
    "CATEGORIES",
    "COLLECTIONS",
    "EXPENSES",
    "PER_PAGE",
    "SCHEDULE_KEY",
    "SWEEP_KEY",
    "Collection",
    "Lister",
    "Observation",
    "observe",
]
