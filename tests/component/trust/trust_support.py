"""Shared steps of the trust tests: a synced firm of a few bills, Ramp write counts."""

from __future__ import annotations

from typing import Any

from component.sync.sync_flow_support import SyncWorld
from ml_connector.sync.kinds import Kind

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def seed_vendor(w: SyncWorld, name: str = "Acme, Inc.") -> Any:
    return w.books.create(
        "bill_vendors",
        {"vendor_name": name, "primary_contact_email": "billing@acme.example",
         "country": "US", "province": "NY", "currency_code": "USD"},
    )  # fmt: skip


def seed_bill(w: SyncWorld, vendor_id: int, number: str, categories: list[str]) -> Any:
    lines = [
        {"categoryid": w.books.category_named(name).id, "description": f"{name} line",
         "quantity": 1, "unit_cost": {"amount": "10.00", "code": "USD"}}
        for name in categories
    ]  # fmt: skip
    return w.books.create(
        "bills",
        {"vendorid": vendor_id, "bill_number": number, "issue_date": "2026-10-01",
         "due_offset_days": 30, "currency_code": "USD", "language": "en", "lines": lines},
    )  # fmt: skip


def ramp_writes(w: SyncWorld) -> dict[str, int]:
    """Ramp requests that change something, by route template."""
    return {
        route: count
        for route, count in w.h.ramp.counters.requests_by_route.items()
        if route.split(" ", 1)[0] in WRITE_METHODS
    }


async def sync_bills(w: SyncWorld, bills: list[Any]) -> None:
    for bill in bills:
        await w.enqueue(Kind.SYNC_BILL, bill.id)
    await w.drain()
    states = await w.job_states()
    assert {s[1] for s in states.values()} == {"completed"}, states
