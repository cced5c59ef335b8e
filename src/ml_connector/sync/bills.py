"""The bill sync: a FreshBooks bill → a Ramp bill, created, updated or archived.

The plan (`core.plan.plan_bill`) decides; this job supplies it with the re-fetched bill,
its vendor and that vendor's recent terms, the links and the Ramp bill a link points at,
then runs the actions: the vendor first when it is new (its ids flow into the bill), a
bill paid in FreshBooks is created ``PAID_MANUALLY`` with its payment date, an unpaid
one stays open, and a FreshBooks delete archives the Ramp bill unless Ramp has paid it
(then the bill waits in review).

A payment recorded in FreshBooks after the Ramp bill exists follows
``bills.paid_after_sync``: ``replace`` (the default) archives the open Ramp bill and
creates it again ``PAID_MANUALLY`` with the same ``remote_id`` — so Ramp bill pay cannot
pay it a second time — and the link moves to the replacement; ``review`` parks the bill.
A bill Ramp already shows paid is left alone.
"""

from __future__ import annotations

from ml_connector.core.model import FreshBooksKind
from ml_connector.queue import Job
from ml_connector.sync.executor import SyncDeps, run_object_sync
from ml_connector.sync.planning import plan_bill_object

__all__ = ["sync_bill"]


async def sync_bill(deps: SyncDeps, job: Job) -> None:
    """Handler of `Kind.SYNC_BILL` (args: connection_id, fb_id, source)."""
    await run_object_sync(deps, job, FreshBooksKind.BILL, plan_bill_object)
