"""Listed objects carried into their sync jobs, so a backfill need not fetch each one again.

A backfill lists every FreshBooks object 100 to a page; fetching each again in its own
sync job costs one call per object against a budget of about five calls a second per
account, which made FreshBooks, not Ramp, the backfill's bottleneck. So the page job
stores each listed object in its sync job's args, and the job plans from that snapshot
instead of a `GET` — but only when the snapshot is as good as the fetch it replaces:

- never after another producer coalesced into the job: a webhook, or the sweep finding
  a change whose webhook was lost, says the object changed since it was listed. A job
  absorbs such a request for as long as it waits, retries included, so a snapshot that
  is still there is still the latest known state — however long the job has waited;
- never in a replay: a dead or parked job absorbs nothing, so an operator's replay,
  perhaps days later, reads FreshBooks again;
- only a complete object: a bill whose lines or payments do not add up to its own
  totals (a listing that left them out), or whose vendor did not ride along, is fetched.

Anything else (a snapshot that no longer validates, an unknown kind) also falls back to
the fetch: the snapshot is an optimisation, never a source of truth on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from ml_connector.clients.freshbooks import models as fbwire
from ml_connector.core.model import FreshBooksKind, VisState
from ml_connector.queue import Job

__all__ = ["SNAPSHOT_ARG", "from_job", "is_complete", "to_arg"]

SNAPSHOT_ARG = "snapshot"
"""The job arg holding the listed object (FreshBooks JSON, as the wire model dumps it)."""

_MODELS: Mapping[FreshBooksKind, type[BaseModel]] = {
    FreshBooksKind.BILL: fbwire.Bill,
    FreshBooksKind.VENDOR: fbwire.BillVendor,
    FreshBooksKind.EXPENSE: fbwire.Expense,
}

_ID_FIELDS: Mapping[FreshBooksKind, str] = {
    FreshBooksKind.BILL: "id",
    FreshBooksKind.VENDOR: "vendorid",
    FreshBooksKind.EXPENSE: "expenseid",
}


def to_arg(wire: BaseModel) -> dict[str, Any]:
    """The JSON a sync job keeps of a listed object (round-trips through `from_job`)."""
    return wire.model_dump(mode="json")


def _bill_is_complete(bill: fbwire.Bill) -> bool:
    if not bill.lines:
        return False
    if bill.vendorid is not None and bill.vendor is None:
        return False
    if bill.amount is not None:
        lines = Decimal(0)
        for line in bill.lines:
            if line.amount is None:
                return False
            lines += line.amount.amount
        if lines != bill.amount.amount:
            return False
    if bill.paid is not None:
        paid = sum(
            (p.amount.amount for p in bill.bill_payments if p.vis_state == VisState.ACTIVE),
            Decimal(0),
        )
        if paid != bill.paid.amount:
            return False
    return True


def is_complete(wire: BaseModel) -> bool:
    """Whether a listed object carries everything a fetched one would."""
    if isinstance(wire, fbwire.Bill):
        return _bill_is_complete(wire)
    return True


def from_job(job: Job, kind: FreshBooksKind) -> BaseModel | None:
    """The listed object to plan from, or None when the job must fetch it."""
    raw = job.args.get(SNAPSHOT_ARG)
    if not isinstance(raw, dict) or job.replays or job.coalesced:
        return None
    model = _MODELS.get(kind)
    if model is None:
        return None
    try:
        wire = model.model_validate(raw)
    except ValidationError:
        return None
    if str(getattr(wire, _ID_FIELDS[kind])) != str(job.args.get("fb_id")):
        return None
    return wire if is_complete(wire) else None
