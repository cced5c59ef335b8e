"""The audit steps of one object's sync, in the words the trail uses everywhere.

Every bill, vendor, expense and category a job touches gets, in its hash-chained chain
(`store.audit`): ``received`` (why the job ran) → ``fetched`` (digest of what FreshBooks
returned) → ``mapped`` (mapping version, every planned action with its reasons and the
rules that fired) → per Ramp write ``ramp.request`` / ``ramp.response`` or ``ramp.error``
(method, path, body digests; the store strips secret-looking keys again) → ``outcome``.
A job that had to wait for another's write shows ``contended`` and a second ``mapped``.
Rows for a write are appended in the executor's own transactions (`append`), so an
intent, its link and its audit rows commit together.

``received``, ``fetched`` and ``mapped`` are held back and committed with the job's next
row — the first write's intent, or the outcome — instead of in three transactions of
their own: they describe only what the job read and decided, so they are never missing
before anything the job did, and an attempt killed before its first write did nothing
its retry will not record again. This took three of a bill's ten write transactions off
a backfill.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.core.actions import (
    Action,
    ArchiveBill,
    CodeTransaction,
    CreateBill,
    CreateVendor,
    LinkVendor,
    Review,
    SetMemo,
    UpdateBill,
    Wait,
)
from ml_connector.core.clock import Clock
from ml_connector.core.hashing import canonical_json
from ml_connector.store import audit

__all__ = ["Step", "Trail", "describe_action"]


class Step:
    RECEIVED = "received"
    FETCHED = "fetched"
    MAPPED = "mapped"
    REQUEST = "ramp.request"
    RESPONSE = "ramp.response"
    ERROR = "ramp.error"
    LINKED = "linked"
    CONTENDED = "contended"
    """Another job held a write this plan needed: waited for it, then planned again."""
    OUTCOME = "outcome"


def describe_action(action: Action) -> dict[str, Any]:
    """An action as the trail (and the dry-run plan) shows it: kind, reason, rules, request."""
    out: dict[str, Any] = {
        "action": action.kind.value,
        "reason": action.reason,
        "explanation": list(action.explanation),
    }
    if isinstance(action, CreateVendor | CreateBill | UpdateBill | CodeTransaction | SetMemo):
        out["request"] = {
            "method": action.method,
            "path": action.path,
            "payload": _plain(action.payload),
        }
    if isinstance(action, ArchiveBill):
        out["request"] = {"method": action.method, "path": action.path}
    if isinstance(action, LinkVendor):
        out |= {"ramp_vendor_id": action.ramp_vendor_id, "rule": action.rule}
        out["confidence"] = action.confidence
    if isinstance(action, Review):
        out |= {
            "code": action.code,
            "problems": [str(p) for p in action.problems],
            "candidates": list(action.candidates),
        }
    if isinstance(action, Wait):
        out["until"] = action.until.isoformat()
    return out


def _plain(value: object) -> Any:
    """JSON-able form of a payload (`PendingRef`s shown as text until resolved)."""
    return json.loads(canonical_json(value))


class Trail:
    """Audit steps for one job: who acted (`actor`, `job_id`) on which connection."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        connection_id: int,
        clock: Clock,
        job_id: int | None,
        actor: str,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.connection_id = connection_id
        self.job_id = job_id
        self.actor = actor
        self._held: list[audit.NewEntry] = []

    async def append(
        self,
        db: AsyncConnection,
        object_type: str,
        fb_id: str,
        step: str,
        detail: Mapping[str, Any],
        *,
        ramp_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """One row inside the caller's transaction (after any rows held back)."""
        held, self._held = self._held, []
        entry = self._entry(object_type, fb_id, step, detail, ramp_id=ramp_id, at=at)
        await audit.append_many(db, [*held, entry])

    def hold(self, object_type: str, fb_id: str, step: str, detail: Mapping[str, Any]) -> None:
        """A row for the next transaction that appends (stamped now, written then)."""
        self._held.append(self._entry(object_type, fb_id, step, detail))

    async def flush(self) -> None:
        """Write the rows held back, if any, in a transaction of their own."""
        if self._held:
            async with self._engine.begin() as db:
                held, self._held = self._held, []
                await audit.append_many(db, held)

    def _entry(
        self,
        object_type: str,
        fb_id: str,
        step: str,
        detail: Mapping[str, Any],
        *,
        ramp_id: str | None = None,
        at: datetime | None = None,
    ) -> audit.NewEntry:
        return audit.NewEntry(
            object_type=object_type,
            step=step,
            at=at or self._clock(),
            actor=self.actor,
            connection_id=self.connection_id,
            fb_id=fb_id,
            ramp_id=ramp_id,
            job_id=self.job_id,
            detail=dict(detail),
        )

    async def record(
        self,
        object_type: str,
        fb_id: str,
        step: str,
        detail: Mapping[str, Any],
        *,
        ramp_id: str | None = None,
    ) -> None:
        """One row in a short transaction of its own."""
        async with self._engine.begin() as db:
            await self.append(db, object_type, fb_id, step, detail, ramp_id=ramp_id)

    def received(self, object_type: str, fb_id: str, args: Mapping[str, Any]) -> None:
        replay = args.get("_replay")
        self.hold(
            object_type,
            fb_id,
            Step.RECEIVED,
            {
                "source": args.get("source"),
                "job_kind": args.get("_kind"),
                "replay": replay if isinstance(replay, dict) else None,
            },
        )

    def fetched(
        self, object_type: str, fb_id: str, wire: BaseModel, *, listed: bool = False
    ) -> None:
        """`listed`: the object came from the backfill's listing, not a fetch of its own."""
        body = wire.model_dump(mode="json")
        self.hold(
            object_type,
            fb_id,
            Step.FETCHED,
            {
                "system": "freshbooks",
                "via": "listing" if listed else "get",
                "digest": audit.digest(body),
                "vis_state": body.get("vis_state"),
                "updated": body.get("updated_at") or body.get("updated"),
                "object": body,
            },
        )

    def mapped(
        self,
        object_type: str,
        fb_id: str,
        *,
        mapping_version: int,
        actions: Sequence[Action],
    ) -> None:
        self.hold(
            object_type,
            fb_id,
            Step.MAPPED,
            {
                "mapping_version": mapping_version,
                "actions": [describe_action(a) for a in actions],
            },
        )

    async def outcome(
        self,
        object_type: str,
        fb_id: str,
        result: str,
        detail: Mapping[str, Any] | None = None,
        *,
        ramp_id: str | None = None,
    ) -> None:
        await self.record(
            object_type,
            fb_id,
            Step.OUTCOME,
            {"result": result, **(detail or {})},
            ramp_id=ramp_id,
        )
