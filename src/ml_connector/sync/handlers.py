"""Registration of the object-sync handlers (vendors, bills, expenses, categories).

`register_sync_handlers(registry, runtime)` is the contract the worker registry
composes; the handlers of one registry share one set of caches, so a backfill reads
Ramp's reference data once per cache period instead of once per object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from ml_connector.queue import Job, Registry
from ml_connector.sync.bills import sync_bill
from ml_connector.sync.categories import sync_category
from ml_connector.sync.executor import SyncDeps
from ml_connector.sync.expenses import sync_expense
from ml_connector.sync.kinds import Kind
from ml_connector.sync.planning import Caches
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.vendors import sync_vendor

__all__ = ["register_sync_handlers"]

_HANDLERS: dict[Kind, Callable[[SyncDeps, Job], Awaitable[None]]] = {
    Kind.SYNC_VENDOR: sync_vendor,
    Kind.SYNC_BILL: sync_bill,
    Kind.SYNC_EXPENSE: sync_expense,
    Kind.SYNC_CATEGORY: sync_category,
}


def register_sync_handlers(
    registry: Registry, runtime: Runtime, *, caches: Caches | None = None
) -> SyncDeps:
    """Register SYNC_VENDOR/BILL/EXPENSE/CATEGORY on `registry`; returns their shared deps."""
    deps = SyncDeps(runtime=runtime, caches=caches or Caches.build(runtime.clock))
    for kind, handler in _HANDLERS.items():
        registry.register(kind.value, partial(handler, deps))
    return deps
