"""The vendor sync: a FreshBooks bill vendor → a linked or newly created Ramp vendor.

Vendors are also created on demand by the bill sync (no manual setup); this job exists
so that a vendor edited or added in FreshBooks is matched, created or sent to review
before its first bill arrives. A FreshBooks delete never deletes anything in Ramp.
"""

from __future__ import annotations

from ml_connector.core.model import FreshBooksKind
from ml_connector.queue import Job
from ml_connector.sync.executor import SyncDeps, run_object_sync
from ml_connector.sync.planning import plan_vendor_object

__all__ = ["sync_vendor"]


async def sync_vendor(deps: SyncDeps, job: Job) -> None:
    """Handler of `Kind.SYNC_VENDOR` (args: connection_id, fb_id, source)."""
    await run_object_sync(deps, job, FreshBooksKind.VENDOR, plan_vendor_object)
