"""The category sync: a FreshBooks category change re-evaluates what it affects.

A category is not itself written to Ramp; it reaches Ramp through the GL mapping (by id
or by name, with parent fallback) and cost-center rules. So when one is created, renamed,
moved or deleted, every bill line and expense coded with it or with one of its
descendants may now map elsewhere — or, for a bill that waited for a mapping, map at
all. This job finds those objects in FreshBooks and enqueues their syncs (source
``dependency``); their own jobs re-plan and write only if the result changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from ml_connector.clients.freshbooks import Search
from ml_connector.core.errors import NeedsAttentionError, RetriableError
from ml_connector.core.model import Category
from ml_connector.queue import Job
from ml_connector.sync.executor import SyncDeps
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.planning import Session, open_session
from ml_connector.sync.trail import Trail

__all__ = ["affected_categories", "sync_category"]

OBJECT_TYPE = "category"
_SEARCH_CHUNK = 50


def affected_categories(category_id: str, categories: Iterable[Category]) -> frozenset[str]:
    """The category and all its descendants (whose GL may fall back to it)."""
    children: dict[str, list[str]] = {}
    for c in categories:
        if c.parent_id is not None:
            children.setdefault(c.parent_id, []).append(c.id)
    out = {category_id}
    frontier = [category_id]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in out:
                out.add(child)
                frontier.append(child)
    return frozenset(out)


async def _affected_objects(session: Session, ids: frozenset[str]) -> tuple[list[str], list[str]]:
    bills = [
        str(b.id)
        async for b in session.fb.bills(session.account_id).list()
        if any(str(line.category_id) in ids for line in b.lines if line.category_id is not None)
    ]
    ordered = sorted(ids)
    expenses: list[str] = []
    for start in range(0, len(ordered), _SEARCH_CHUNK):
        search = Search().in_("categoryids", ordered[start : start + _SEARCH_CHUNK])
        expenses += [
            str(e.expenseid)
            async for e in session.fb.expenses(session.account_id).list(search)
            if str(e.categoryid) in ids
        ]
    return bills, expenses


async def sync_category(deps: SyncDeps, job: Job) -> None:
    """Handler of `Kind.SYNC_CATEGORY` (args: connection_id, fb_id, source)."""
    runtime = deps.runtime
    connection_id = int(job.args["connection_id"])
    fb_id = str(job.args["fb_id"])
    trail = Trail(
        runtime.engine, connection_id=connection_id, clock=runtime.clock, job_id=job.id,
        actor=f"worker:{job.kind}:{job.id}",
    )  # fmt: skip
    trail.received(OBJECT_TYPE, fb_id, {**job.args, "_kind": job.kind})
    try:
        deps.caches.categories.invalidate(connection_id)
        async with open_session(runtime, connection_id, deps.caches) as session:
            categories = await session.categories()
            ids = affected_categories(fb_id, categories)
            bills, expenses = await _affected_objects(session, ids)
        now = runtime.clock()
        async with runtime.engine.begin() as db:
            for kind, object_ids in ((Kind.SYNC_BILL, bills), (Kind.SYNC_EXPENSE, expenses)):
                for object_id in object_ids:
                    await enqueue_object_sync(
                        db, kind=kind, connection_id=connection_id, fb_id=object_id,
                        source=Source.DEPENDENCY, now=now,
                    )  # fmt: skip
            await trail.append(
                db, OBJECT_TYPE, fb_id, "outcome",
                {"result": "re-evaluating", "categories": sorted(ids), "bills": bills,
                 "expenses": expenses},
            )  # fmt: skip
    except (NeedsAttentionError, RetriableError) as exc:
        await trail.outcome(OBJECT_TYPE, fb_id, "retry" if isinstance(exc, RetriableError)
                            else "needs_attention", {"reason": str(exc)})  # fmt: skip
        raise
    except Exception:
        await trail.flush()
        raise
