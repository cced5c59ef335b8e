"""The expense sync: code the matching Ramp card transaction, or follow the policy.

A card expense is matched to its Ramp card transaction (exact amount, date window,
merchant name) among the candidates Ramp returns for that amount and window; charges
already linked to another FreshBooks object are never offered again, and the executor
claims the chosen one so two concurrent jobs cannot code it twice. No match yet → the
``wait`` policy retries the job (about daily) until ``wait_days`` have passed, then the
``after_wait`` policy applies; ``manual_bill`` records a Ramp bill paid manually;
``review`` parks the expense with the candidates in its reason and audit trail.
"""

from __future__ import annotations

from typing import Any

from ml_connector.core.model import FreshBooksKind
from ml_connector.queue import Job
from ml_connector.sync.executor import SyncDeps, run_object_sync
from ml_connector.sync.planning import Planned, Session, plan_expense_object

__all__ = ["sync_expense"]


async def _plan(session: Session, fb_id: str, *, wire: Any = None) -> Planned:
    return await plan_expense_object(session, fb_id, wire=wire)


async def sync_expense(deps: SyncDeps, job: Job) -> None:
    """Handler of `Kind.SYNC_EXPENSE` (args: connection_id, fb_id, source)."""
    await run_object_sync(deps, job, FreshBooksKind.EXPENSE, _plan)
