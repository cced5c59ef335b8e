"""Carry out a plan's actions against Ramp, safely across crashes, retries and races.

Every write follows one shape, and no database transaction is open during an HTTP call:

1. a short transaction records the *write intent* and the ``ramp.request`` audit row;
2. the Ramp call;
3. a short transaction writes the link, resolves the intent and appends
   ``ramp.response`` — all or nothing.

Ramp bills and vendors take no idempotency key, so a create whose response was lost
leaves its intent *pending*. The retry finds it and looks the object up before creating
it again: a bill by our ``remote_id`` (within its vendor first), a vendor by re-reading
Ramp's vendors and comparing canonical names (and ``external_vendor_id``). Vendor
creation is serialized per connection (one intent key for all of a connection's vendor
creations — they are rare, once per supplier), so two jobs creating "Acme, Inc." and
"ACME Inc", "Zoom" and "Zoom Video Communications", or two bills of the same new vendor
cannot both create one: the partial unique index on pending intents lets one through and
the other waits (a short `RetriableError`). The one that holds it re-reads Ramp's vendors
and runs the match ladder again on that fresh list: a vendor that appeared since planning
is linked (same name) or sends the object back to re-plan (a resemblance → review).
Within a process the jobs take turns for that intent (`vendor_turns`), and the list the
process holds stands in for the re-read while nothing but its own turns changed it.

A bill paid in FreshBooks after its Ramp bill exists may be *replaced* (see
`core.plan`): one intent covers both writes and stays pending until the replacement is
linked, and the same transaction that opens it marks the link `REPLACING_HASH`. A retry
first looks for a live bill with our ``remote_id`` other than the one being replaced
(the replacement whose answer was lost) and adopts it; otherwise it archives the old
bill unless that is done already, then creates the paid one. Ramp counts archived bills
apart, so the archived original and its replacement share a ``remote_id`` legitimately.

After every successful Ramp write for the job's own object, the time from the
FreshBooks change (its ``updated_at``) to the write goes to `mlc_sync_latency_seconds`.

A card transaction is claimed the same way (an intent keyed on the transaction, checked
against links in the same transaction), so one transaction is never coded for two
expenses.

Bad outcomes map to the error tree: Ramp refusing our request → `NeedsAttentionError`
with Ramp's reason (the object is parked; the rest flows); 429/5xx → retriable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import pydantic
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.clients.http import DEFAULT_TIMEOUT
from ml_connector.clients.ramp import RampClient, RequestNotSentError
from ml_connector.clients.ramp import models as wire
from ml_connector.core.actions import (
    Action,
    ArchiveBill,
    CodeTransaction,
    CreateBill,
    CreateVendor,
    LinkVendor,
    PendingRef,
    ReplaceBill,
    Review,
    SetMemo,
    Skip,
    UpdateBill,
    Wait,
    has_pending,
    resolve_pending,
)
from ml_connector.core.clock import Clock
from ml_connector.core.errors import (
    ApiError,
    ApiValidationError,
    ConnectorError,
    NeedsAttentionError,
    NotFoundError,
    RateLimitedError,
    RetriableError,
    TransientApiError,
)
from ml_connector.core.flow_config.models import VendorsSection
from ml_connector.core.hashing import content_hash
from ml_connector.core.model import FreshBooksKind, RampKind, RampVendorRef
from ml_connector.core.plan import REPLACING_HASH
from ml_connector.core.vendors import (
    MatchOutcome,
    VendorMatch,
    canonical_vendor_key,
    match_vendor,
)
from ml_connector.metrics import observe_sync_latency
from ml_connector.queue import REPLAY_ARG, WAITING, Job, JobState, list_jobs
from ml_connector.queue import get as get_job
from ml_connector.queue.parking import parked
from ml_connector.store import audit, read
from ml_connector.store import links as links_store
from ml_connector.store.connections import Connection, ConnectionStatus
from ml_connector.store.links import IntentState, WriteIntent
from ml_connector.sync import convert, snapshots
from ml_connector.sync.intent_signals import IntentSignals
from ml_connector.sync.kinds import Kind
from ml_connector.sync.planning import (
    Caches,
    Planned,
    Session,
    load_links,
    open_session,
    original_mapping_version,
)
from ml_connector.sync.ramp_state import RampStateCache, fresh_vendors
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.trail import Step, Trail
from ml_connector.sync.vendor_turns import VendorTurns

__all__ = [
    "ADOPTED_STALE_HASH",
    "CLAIM_FB_TYPE",
    "CONTENDED_RETRY_SECONDS",
    "INTENT_SETTLE_SECONDS",
    "VENDOR_KEY_FB_TYPE",
    "ExecutionReport",
    "Executor",
    "SyncDeps",
    "run_object_sync",
    "stored_hash",
    "wait_retry_after",
]

VENDOR_KEY_FB_TYPE = "vendor_key"
"""Intents of this type are the per-connection mutex for vendor creation."""
VENDOR_MUTEX_ID = "connection"
CLAIM_FB_TYPE = "transaction"
"""Intents keyed on a Ramp card transaction: the claim that keeps it to one expense."""
INTENT_SETTLE_SECONDS = float((DEFAULT_TIMEOUT.connect or 0.0) + (DEFAULT_TIMEOUT.read or 0.0))
"""How old a pending intent of a job that is not running must be before it is inherited:
no Ramp call outlives the client's connect + read timeouts."""
CONTENDED_RETRY_SECONDS = 2.0
"""How soon a job that lost a race tries again (the winner needs a few requests)."""
CONTENDED_WAIT_SECONDS = 30.0
"""How long, in all, one attempt waits in place for winners before giving up. Waiting
costs a few reads; a failed attempt costs a whole job's work again plus its back-off.
One connection creates its vendors one at a time, so at the start of a backfill a
vendor's job may wait behind a few dozen others (~0.3 s each), each wait a re-plan."""
CONTENDED_POLL_SECONDS = 0.15
"""How often a waiting job looks whether the winner is done (a vendor create: ~0.1-0.3 s)."""
MAX_REPLANS = 100
"""Re-plans within one attempt after waiting for a winner (then the attempt retries): a
backstop against a livelock; the wait above is what normally bounds an attempt."""
VENDOR_SYNCS_RETRY_SECONDS = 30.0
"""How soon an expense that needs a Ramp vendor looks again while vendor syncs still run."""
ADOPTED_STALE_HASH = content_hash({"adopted": "from an earlier version"})
"""Link hash of a bill adopted after a lost answer whose request was an older version:
it matches no plan, so the next plan updates the bill."""
PAUSED_RETRY_SECONDS = 600.0
"""How often a job of a paused connection looks again."""

_HASH_PREFIX = "sha256:"

A = TypeVar("A", CreateBill, UpdateBill)


def stored_hash(digest: str) -> str:
    """A content hash as the links table keeps it (64 hex characters, no scheme)."""
    return digest.removeprefix(_HASH_PREFIX)


def wait_retry_after(until: date, today: date, wait_days: int) -> float:
    """Seconds before an expense waiting for its card charge is matched again.

    About six looks over the waiting period and at least one a day, so a bounded wait
    stays well inside the job's attempts, then one more look after `until`.
    """
    remaining = max((until - today).days + 1, 1)
    step = max(timedelta(days=1), timedelta(days=max(wait_days, 1)) / 6)
    return min(step, timedelta(days=remaining)).total_seconds()


@dataclass
class ExecutionReport:
    """What a run did: Ramp ids written per FreshBooks object, reviews and waits."""

    written: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(object type, FreshBooks id, action kind, Ramp id)."""
    reviews: list[Review] = field(default_factory=list)
    wait: Wait | None = None


class _Taken:
    """An intent this run holds, and whether an earlier attempt had opened it."""

    def __init__(self, intent: WriteIntent, inherited: bool) -> None:
        self.intent = intent
        self.inherited = inherited


class Executor:
    """Runs the actions of one plan for one job (see the module docstring)."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        ramp: RampClient,
        clock: Clock,
        trail: Trail,
        cache: RampStateCache,
        mapping_version: int,
        wait_days: int = 5,
        vendor_policy: VendorsSection | None = None,
        changed: tuple[str, str, datetime] | None = None,
        signals: IntentSignals | None = None,
        turns: VendorTurns | None = None,
    ) -> None:
        """`changed` is (object type, FreshBooks id, FreshBooks ``updated_at``) of the job's
        object: its writes are timed from that change for the latency metric. `signals`
        wakes this process's jobs waiting for one of its intents; `turns` queues its vendor
        creations behind this process's others."""
        self._engine = engine
        self._signals = signals
        self._turns = turns
        self._ramp = ramp
        self._clock = clock
        self._trail = trail
        self._cache = cache
        self._connection_id = trail.connection_id
        self._job_id = trail.job_id
        self._mapping_version = mapping_version
        self._wait_days = wait_days
        self._vendor_policy = vendor_policy or VendorsSection()
        self._fresh_vendors: tuple[RampVendorRef, ...] = ()
        self._list_read_at = clock()
        self._ids: dict[PendingRef, str] = {}
        self._changed = changed
        self.report = ExecutionReport()

    # --- the plan --------------------------------------------------------------------

    async def run(self, actions: Sequence[Action]) -> ExecutionReport:
        """Run writes in order; then park (reviews) or postpone (wait) if the plan says so."""
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, CodeTransaction):
                memo = next(
                    (
                        a
                        for a in pending
                        if isinstance(a, SetMemo)
                        and a.ramp_transaction_id == action.ramp_transaction_id
                    ),
                    None,
                )
                if memo is not None:
                    pending.remove(memo)
                await self._code_transaction(action, memo)
            elif isinstance(action, SetMemo):
                await self._code_transaction(None, action)
            elif isinstance(action, Review):
                self.report.reviews.append(action)
            elif isinstance(action, Wait):
                self.report.wait = action
            elif not isinstance(action, Skip):
                await self._write(action)
        return self.report

    async def _write(
        self, action: CreateVendor | LinkVendor | CreateBill | UpdateBill | ArchiveBill
    ) -> None:
        if isinstance(action, CreateVendor):
            await self._create_vendor(action)
        elif isinstance(action, LinkVendor):
            await self._link_vendor(action)
        elif isinstance(action, ReplaceBill):
            await self._replace_bill(action)
        elif isinstance(action, CreateBill):
            await self._create_bill(action)
        elif isinstance(action, UpdateBill):
            await self._update_bill(action)
        else:
            await self._archive_bill(action)

    # --- intents ---------------------------------------------------------------------

    async def _take_intent(
        self,
        *,
        fb_type: str,
        fb_id: str,
        ramp_type: str,
        operation: str,
        digest: str,
        audit_object: tuple[str, str],
        request: Mapping[str, Any],
        check: Callable[[AsyncConnection], Awaitable[None]] | None = None,
        adopt: Callable[[WriteIntent], bool] | None = None,
    ) -> _Taken:
        """Record a pending intent (and the request audit row), or inherit one.

        An intent left pending by a job that is still running means a race: wait and
        re-plan. One left by a job that is no longer running (ours from an earlier
        attempt, or one that died) is inherited when `adopt` allows it; the caller then
        reconciles with Ramp before writing.
        """
        for _ in range(3):
            try:
                async with self._engine.begin() as db:
                    intent = await links_store.record_intent(
                        db,
                        connection_id=self._connection_id,
                        fb_type=fb_type,
                        fb_id=fb_id,
                        ramp_type=ramp_type,
                        operation=operation,
                        request_digest=digest,
                        now=self._clock(),
                        job_id=self._job_id,
                    )
                    if check is not None:
                        await check(db)
                    await self._trail.append(db, *audit_object, Step.REQUEST, request)
                return _Taken(intent, inherited=False)
            except IntegrityError:
                pass
            async with read(self._engine) as db:
                existing = await links_store.pending_intent(
                    db,
                    connection_id=self._connection_id,
                    fb_type=fb_type,
                    fb_id=fb_id,
                    ramp_type=ramp_type,
                    operation=operation,
                )
                owner = (
                    None
                    if existing is None or existing.job_id is None
                    else await get_job(db, existing.job_id)
                )
            if existing is None:
                continue  # resolved between our insert and our read: try again
            if owner is not None and owner.id != self._job_id and owner.state is JobState.RUNNING:
                # No cache to drop: the re-plan finds the winner's vendor through its link
                # (`Session.reference` re-reads vendors for a link it cannot resolve), and
                # a create always re-reads Ramp's vendors first.
                raise ContendedError(
                    f"another job ({owner.id}) is writing the same Ramp {ramp_type} right now; "
                    "this one re-plans once it is done",
                    owner_job_id=owner.id,
                    intent_id=existing.id,
                )
            age = (self._clock() - existing.created_at).total_seconds()
            if age < INTENT_SETTLE_SECONDS:
                # Its job is not running *now*, but the process that took the intent may
                # still be inside the Ramp call (a lease that ran out while it was alive).
                # No call outlives the client's timeout: after that, a lookup sees what
                # it did, so only then is the intent inherited.
                raise RetriableError(
                    f"an earlier write to Ramp {ramp_type} ({operation}) may still be in "
                    "flight; retrying once it has settled",
                    retry_after=INTENT_SETTLE_SECONDS - age,
                )
            if adopt is not None and not adopt(existing):
                raise NeedsAttentionError(
                    f"an earlier write to Ramp {ramp_type} ({operation}) by job "
                    f"{existing.job_id} never finished and belongs to another object; replay "
                    "that job first",
                    code="sync.stale_intent",
                )
            async with self._engine.begin() as db:
                owned = await links_store.take_over_intent(
                    db, existing, job_id=self._job_id, now=self._clock()
                )
                if owned is not None:
                    await self._trail.append(
                        db, *audit_object, Step.REQUEST, {**request, "resumes_intent": owned.id}
                    )
            if owned is None:
                # Another job inherited it a moment ago (and would now be contended with):
                # look again rather than both reconciling and writing.
                continue
            return _Taken(owned, inherited=True)
        raise RetriableError(
            f"the write intent for Ramp {ramp_type} {operation} keeps changing; retrying",
            retry_after=CONTENDED_RETRY_SECONDS,
        )

    async def _finish(
        self,
        taken: _Taken,
        *,
        succeeded: bool,
        ramp_id: str | None,
        audit_object: tuple[str, str],
        step: str,
        detail: Mapping[str, Any],
        link: tuple[str, str, str] | None = None,
        link_hash: str | None = None,
    ) -> None:
        """Resolve the intent, write the link and the audit row in one transaction.

        `link` is (fb_type, fb_id, ramp_type) of the link to write with `ramp_id`.
        """
        async with self._engine.begin() as db:
            await links_store.resolve_intent(
                db, taken.intent.id, succeeded=succeeded, now=self._clock(), ramp_id=ramp_id
            )
            if link is not None and ramp_id is not None:
                await links_store.upsert(
                    db,
                    connection_id=self._connection_id,
                    fb_type=link[0],
                    fb_id=link[1],
                    ramp_type=link[2],
                    ramp_id=ramp_id,
                    content_hash=None if link_hash is None else stored_hash(link_hash),
                    mapping_version=self._mapping_version,
                    now=self._clock(),
                )
            await self._trail.append(db, *audit_object, step, detail, ramp_id=ramp_id)
        self._signal_resolved(taken)
        if succeeded and ramp_id is not None:
            self.report.written.append((audit_object[0], audit_object[1], step, ramp_id))
            self._observe_latency(audit_object)

    def _observe_latency(self, audit_object: tuple[str, str]) -> None:
        if self._changed is not None and audit_object == self._changed[:2]:
            observe_sync_latency(self._changed[0], self._changed[2], self._clock())

    async def _failed(
        self, taken: _Taken, error: Exception, audit_object: tuple[str, str], *, creates: bool
    ) -> None:
        """Record a failed call; leave the intent pending only if Ramp may have written."""
        unknown = (
            creates
            and isinstance(error, TransientApiError)
            and not isinstance(error, RequestNotSentError)
        )
        detail = {
            "error": type(error).__name__,
            "message": str(error)[:500],
            "status": getattr(error, "status", None),
            "code": getattr(error, "code", None),
            "outcome_unknown": unknown,
        }
        async with self._engine.begin() as db:
            if not unknown:
                await links_store.resolve_intent(
                    db, taken.intent.id, succeeded=False, now=self._clock()
                )
            await self._trail.append(db, *audit_object, Step.ERROR, detail)
        if not unknown:
            self._signal_resolved(taken)

    def _signal_resolved(self, taken: _Taken) -> None:
        if self._signals is not None:
            self._signals.resolved(taken.intent.id)

    async def _call(
        self,
        taken: _Taken,
        audit_object: tuple[str, str],
        call: Callable[[], Awaitable[Any]],
        *,
        creates: bool,
        what: str,
    ) -> Any:
        try:
            return await call()
        except (RateLimitedError, TransientApiError) as exc:
            await self._failed(taken, exc, audit_object, creates=creates)
            raise
        except (ApiValidationError, NotFoundError) as exc:
            await self._failed(taken, exc, audit_object, creates=creates)
            raise NeedsAttentionError(
                f"Ramp refused to {what}: {exc.detail or exc}", code="ramp.rejected"
            ) from exc
        except ApiError as exc:
            await self._failed(taken, exc, audit_object, creates=creates)
            raise

    # --- vendors ---------------------------------------------------------------------

    def _remember_ids(self, fb_vendor_id: str, vendor: RampVendorRef) -> None:
        self._ids[PendingRef("vendor", fb_vendor_id)] = vendor.id
        contact = vendor.default_contact_id
        if contact is not None:
            self._ids[PendingRef("vendor_contact", fb_vendor_id)] = contact

    async def _link_vendor(self, action: LinkVendor) -> None:
        fb_id = action.subject.id
        async with self._engine.begin() as db:
            await links_store.upsert(
                db,
                connection_id=self._connection_id,
                fb_type=action.subject.kind.value,
                fb_id=fb_id,
                ramp_type=RampKind.VENDOR.value,
                ramp_id=action.ramp_vendor_id,
                content_hash=stored_hash(action.content_hash),
                mapping_version=self._mapping_version,
                now=self._clock(),
            )
            await self._trail.append(
                db,
                action.subject.kind.value,
                fb_id,
                Step.LINKED,
                {"rule": action.rule, "confidence": action.confidence, "reason": action.reason},
                ramp_id=action.ramp_vendor_id,
            )

    async def _vendors_now(self, taken: _Taken) -> tuple[RampVendorRef, ...]:
        """Ramp's vendors as they are now: this process's list when `VendorTurns` vouches
        for it (its own turns are all that changed it, lately), else a re-read."""
        cid = self._connection_id
        cached = self._cache.cached_vendors(cid)
        if self._turns is not None and cached is not None and not taken.inherited:
            async with read(self._engine) as db:
                previous = await links_store.previous_intent_id(
                    db, connection_id=cid, fb_type=VENDOR_KEY_FB_TYPE, fb_id=VENDOR_MUTEX_ID,
                    ramp_type=RampKind.VENDOR.value, operation="create",
                    before_id=taken.intent.id,
                )  # fmt: skip
            read_at = self._turns.knows(cid, cached, previous_intent_id=previous, now=self._clock())
            if read_at is not None:
                self._list_read_at = read_at
                return cached
        self._list_read_at = self._clock()
        vendors = await fresh_vendors(self._ramp)
        self._cache.replace_vendors(cid, vendors)
        return vendors

    def _vouch_for_list(self, taken: _Taken) -> None:
        """The intent resolved and the cached list shows what it found or made."""
        if self._turns is not None:
            self._turns.record(
                self._connection_id,
                self._cache.cached_vendors(self._connection_id),
                intent_id=taken.intent.id,
                read_at=self._list_read_at,
            )

    async def _existing_vendor(
        self, taken: _Taken, key: str, external_id: str | None
    ) -> RampVendorRef | None:
        """Find a Ramp vendor with this canonical name or our reference, in a list as
        good as a fresh read of Ramp's vendors."""
        vendors = await self._vendors_now(taken)
        self._fresh_vendors = vendors
        hits = [
            v
            for v in vendors
            if v.is_active
            and (
                (external_id is not None and v.external_vendor_id == external_id)
                or canonical_vendor_key(v.name) == key
            )
        ]
        if len(hits) > 1:
            names = ", ".join(f"{v.name!r} ({v.id})" for v in hits)
            raise NeedsAttentionError(
                f"{len(hits)} active Ramp vendors share the name key {key!r}: {names}; "
                "deactivate the duplicates or link the FreshBooks vendor by hand",
                code="vendor.ambiguous",
            )
        return hits[0] if hits else None

    def _verdict(self, action: CreateVendor, vendors: tuple[RampVendorRef, ...]) -> VendorMatch:
        policy = self._vendor_policy
        return match_vendor(
            str(action.payload.get("name", "")),
            vendors,
            auto_threshold=float(policy.auto_match_threshold),
            review_threshold=float(policy.review_threshold),
            confirmed_distinct=action.subject.id in policy.distinct,
        )

    async def _rematch_or_replan(
        self, taken: _Taken, action: CreateVendor, subject: tuple[str, str]
    ) -> None:
        """Run the ladder again on the fresh vendor list `_existing_vendor` just cached.

        Planning saw a cached list; a vendor created meanwhile by another job may resemble
        this one ("Zoom" after "Zoom Video Communications"). Anything but "no match" now
        means the plan is stale: release the mutex without writing and re-plan.
        """
        verdict = self._verdict(action, self._fresh_vendors)
        if verdict.outcome is MatchOutcome.NO_MATCH:
            return
        await self._finish(
            taken, succeeded=False, ramp_id=None, audit_object=subject, step=Step.OUTCOME,
            link=None, link_hash=None,
            detail={"rule": verdict.rule.value, "reason": "Ramp's vendors changed since "
                    f"planning: {verdict.reason}; re-planning instead of creating"},
        )  # fmt: skip
        self._vouch_for_list(taken)
        raise RetriableError(
            f"re-plan vendor {action.subject.id}: {verdict.reason}", retry_after=0.5
        )

    @asynccontextmanager
    async def _vendor_turn(self, action: CreateVendor) -> AsyncIterator[None]:
        """This process's turn to create a vendor for the connection (see `VendorTurns`).

        A job that queued for it re-plans if the jobs before it created its vendor or one
        like it: the process's cached list holds what they made, so the re-plan links it
        without a Ramp call, where the create path would re-read Ramp's vendors first.
        """
        if self._turns is None:
            yield
            return
        async with self._turns.turn(self._connection_id, job_id=self._job_id) as turn:
            cached = self._cache.cached_vendors(self._connection_id) if turn.waited else None
            if cached is not None:
                verdict = self._verdict(action, cached)
                if verdict.outcome is not MatchOutcome.NO_MATCH:
                    raise _StalePlanError(
                        f"vendor {action.subject.id} waited its turn to be created: "
                        f"{verdict.reason}; re-planning",
                        behind_job_id=turn.behind_job_id,
                    )
            yield

    async def _create_vendor(self, action: CreateVendor) -> None:
        payload = dict(action.payload)
        key = canonical_vendor_key(payload.get("name", ""))
        external_id = payload.get("external_vendor_id")
        try:
            body = wire.VendorCreate.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise NeedsAttentionError(
                f"the vendor cannot be sent to Ramp: {_first_error(exc)}",
                code="vendor.invalid_request",
            ) from exc
        async with self._vendor_turn(action):
            await self._create_vendor_in_turn(action, body, key, external_id)

    async def _create_vendor_in_turn(
        self, action: CreateVendor, body: wire.VendorCreate, key: str, external_id: str | None
    ) -> None:
        subject = (action.subject.kind.value, action.subject.id)
        payload = dict(action.payload)
        taken = await self._take_intent(
            fb_type=VENDOR_KEY_FB_TYPE,
            fb_id=VENDOR_MUTEX_ID,
            ramp_type=RampKind.VENDOR.value,
            operation="create",
            digest=audit.digest(payload),
            audit_object=subject,
            request=_request("POST", "/vendors", payload, name_key=key),
        )
        # Always look before creating: this catches a lost response of an earlier
        # attempt, a vendor made by a concurrent job, and one added in Ramp's UI (in a
        # list as good as a re-read, `_vendors_now`).
        existing = await self._existing_vendor(taken, key, external_id)
        link = (action.subject.kind.value, action.subject.id, RampKind.VENDOR.value)
        if existing is not None:
            if existing.default_contact_id is None:
                await self._failed(taken, _NoContactError(), subject, creates=False)
                raise NeedsAttentionError(
                    f"Ramp vendor {existing.name!r} has no contact; bills need one — add a "
                    "contact in Ramp",
                    code="vendor.no_contact",
                )
            await self._finish(
                taken, succeeded=True, ramp_id=existing.id, audit_object=subject,
                step=Step.LINKED, link=link,
                link_hash=content_hash({"ramp_vendor_id": existing.id}),
                detail={"rule": "found_before_create", "reason": "a Ramp vendor with this name "
                        f"key already exists ({existing.name!r}); linked instead of creating",
                        "inherited_intent": taken.inherited},
            )  # fmt: skip
            self._vouch_for_list(taken)
            self._remember_ids(action.subject.id, existing)
            return
        await self._rematch_or_replan(taken, action, subject)
        created = await self._call(
            taken, subject, lambda: self._ramp.vendors.create(body), creates=True,
            what=f"create vendor {payload.get('name')!r}",
        )  # fmt: skip
        vendor = convert.ramp_vendor(created)
        await self._finish(
            taken, succeeded=True, ramp_id=vendor.id, audit_object=subject, step=Step.RESPONSE,
            link=link, link_hash=action.content_hash,
            detail={"status": 200, "digest": audit.digest(created.model_dump(mode="json")),
                    "ramp_id": vendor.id, "contacts": list(vendor.contact_ids)},
        )  # fmt: skip
        self._cache.remember_vendor(self._connection_id, vendor)
        self._vouch_for_list(taken)
        self._remember_ids(action.subject.id, vendor)

    # --- bills -----------------------------------------------------------------------

    def _resolved(self, action: A) -> A:
        if not has_pending(action.payload):
            return action
        done = resolve_pending(action, self._ids)
        if has_pending(done.payload):
            raise NeedsAttentionError(
                "the bill references a Ramp vendor that was not created in this run",
                code="bill.vendor_unresolved",
            )
        return done

    async def _create_bill(self, action: CreateBill) -> None:
        action = self._resolved(action)
        subject = (action.subject.kind.value, action.subject.id)
        payload = dict(action.payload)
        try:
            body = wire.BillCreate.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise NeedsAttentionError(
                f"the bill cannot be sent to Ramp: {_first_error(exc)}", code="bill.invalid_request"
            ) from exc
        taken = await self._take_intent(
            fb_type=action.subject.kind.value, fb_id=action.subject.id,
            ramp_type=RampKind.BILL.value, operation="create", digest=audit.digest(payload),
            audit_object=subject, request=_request("POST", "/bills", payload),
        )  # fmt: skip
        link = (action.subject.kind.value, action.subject.id, RampKind.BILL.value)
        if taken.inherited:
            found = await self._bills_with_remote_id(body.remote_id or "", body.vendor_id)
            if len(found) > 1:
                raise NeedsAttentionError(
                    f"{len(found)} Ramp bills carry remote_id {body.remote_id!r} "
                    f"({', '.join(b.id for b in found)}); archive the duplicates in Ramp",
                    code="bill.duplicate_in_ramp",
                )
            if found:
                # The earlier attempt may have sent an older version of the bill (it was
                # edited in FreshBooks since): then the adopted bill is linked as stale and
                # the job re-plans at once, which patches it to the current version.
                same_request = taken.intent.request_digest == audit.digest(payload)
                await self._finish(
                    taken, succeeded=True, ramp_id=found[0].id, audit_object=subject,
                    step=Step.LINKED, link=link,
                    link_hash=action.content_hash if same_request else ADOPTED_STALE_HASH,
                    detail={"rule": "found_by_remote_id", "remote_id": body.remote_id,
                            "same_request": same_request,
                            "reason": "an earlier attempt created the bill but its answer was "
                            "lost; adopted instead of creating it again"},
                )  # fmt: skip
                if not same_request:
                    raise RetriableError(
                        "adopted a Ramp bill created from an earlier version of this bill; "
                        "re-planning to bring it up to date",
                        retry_after=0.0,
                    )
                return
            await self._failed(taken, _NotCreatedError(), subject, creates=False)
            taken = await self._take_intent(
                fb_type=action.subject.kind.value, fb_id=action.subject.id,
                ramp_type=RampKind.BILL.value, operation="create", digest=audit.digest(payload),
                audit_object=subject, request=_request("POST", "/bills", payload),
            )  # fmt: skip
        created = await self._call(
            taken, subject, lambda: self._ramp.bills.create(body), creates=True,
            what=f"create bill {body.invoice_number}",
        )  # fmt: skip
        await self._finish(
            taken, succeeded=True, ramp_id=created.id, audit_object=subject, step=Step.RESPONSE,
            link=link, link_hash=action.content_hash,
            detail={"status": 201, "digest": audit.digest(created.model_dump(mode="json")),
                    "ramp_id": created.id, "amount_minor": created.amount.amount,
                    "currency": created.amount.currency_code, "status_in_ramp": created.status},
        )  # fmt: skip

    async def _bills_with_remote_id(self, remote_id: str, vendor_id: str) -> list[wire.Bill]:
        found = await self._ramp.bills.find_by_remote_id(
            remote_id, vendor_id=vendor_id, include_archived=True
        )
        if found:
            return found
        # The earlier attempt may have used another vendor (relinked since): scan all.
        return await self._ramp.bills.find_by_remote_id(remote_id, include_archived=True)

    async def _replace_bill(self, action: ReplaceBill) -> None:
        """Archive the open Ramp bill, then create the paid one (module docstring)."""
        old = action.replaces
        resolved = self._resolved(action)
        subject = (action.subject.kind.value, action.subject.id)
        payload = dict(resolved.payload)
        try:
            body = wire.BillCreate.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise NeedsAttentionError(
                f"the replacement bill cannot be sent to Ramp: {_first_error(exc)}",
                code="bill.invalid_request",
            ) from exc
        link = (action.subject.kind.value, action.subject.id, RampKind.BILL.value)

        async def mark_replacing(db: AsyncConnection) -> None:
            # Committed with the intent: a retry after the archive then finishes the
            # replacement instead of reading the archived bill as someone's decision.
            await links_store.upsert(
                db, connection_id=self._connection_id, fb_type=link[0], fb_id=link[1],
                ramp_type=link[2], ramp_id=old, content_hash=stored_hash(REPLACING_HASH),
                mapping_version=self._mapping_version, now=self._clock(),
            )  # fmt: skip

        request = {
            "replaces": old,
            "reason": action.reason,
            "archive": {"method": "DELETE", "path": f"/bills/{old}"},
            "create": _request("POST", "/bills", payload),
        }
        taken = await self._take_intent(
            fb_type=link[0], fb_id=link[1], ramp_type=link[2], operation="replace",
            digest=audit.digest({"replaces": old, "create": payload}), audit_object=subject,
            request=request, check=mark_replacing,
        )  # fmt: skip
        # Always look first: a replacement made by an attempt whose answer was lost, or
        # (on a fresh intent) by a job that died before resolving its own.
        live = [
            b
            for b in await self._bills_with_remote_id(body.remote_id or "", body.vendor_id)
            if b.id != old and not b.is_archived
        ]
        if len(live) > 1:
            raise NeedsAttentionError(
                f"{len(live)} live Ramp bills besides {old} carry remote_id {body.remote_id!r} "
                f"({', '.join(b.id for b in live)}); archive the duplicates in Ramp",
                code="bill.duplicate_in_ramp",
            )
        if live:
            await self._finish(
                taken, succeeded=True, ramp_id=live[0].id, audit_object=subject,
                step=Step.LINKED, link=link, link_hash=resolved.content_hash,
                detail={"rule": "found_by_remote_id", "remote_id": body.remote_id,
                        "replaces": old, "reason": "an earlier attempt created the replacement "
                        "but its answer was lost; adopted instead of creating it again"},
            )  # fmt: skip
            return
        current = await self._call(
            taken, subject, lambda: self._ramp.bills.get(old), creates=True,
            what=f"read bill {old} before replacing it",
        )  # fmt: skip
        if current.is_paid:
            await self._finish(
                taken, succeeded=False, ramp_id=None, audit_object=subject, step=Step.OUTCOME,
                detail={"replaces": old, "reason": f"Ramp bill {old} was paid in Ramp before it "
                        "could be replaced; paid bills are never touched"},
            )  # fmt: skip
            raise RetriableError(
                f"Ramp bill {old} was paid meanwhile; re-planning", retry_after=0.5
            )
        if not current.is_archived:
            await self._call(
                taken, subject, lambda: self._ramp.bills.archive(old), creates=True,
                what=f"archive bill {old} to replace it",
            )  # fmt: skip
            async with self._engine.begin() as db:
                await self._trail.append(
                    db, *subject, Step.RESPONSE,
                    {"status": 204, "archived": True, "operation": "archive",
                     "reason": "archived so that Ramp bill pay cannot pay it a second time; "
                     "a paid replacement follows"},
                    ramp_id=old,
                )  # fmt: skip
            self.report.written.append((subject[0], subject[1], "archive", old))
        created = await self._call(
            taken, subject, lambda: self._ramp.bills.create(body), creates=True,
            what=f"create the paid replacement of bill {old}",
        )  # fmt: skip
        await self._finish(
            taken, succeeded=True, ramp_id=created.id, audit_object=subject, step=Step.RESPONSE,
            link=link, link_hash=resolved.content_hash,
            detail={"status": 201, "operation": "create", "replaces": old,
                    "reason": action.reason,
                    "digest": audit.digest(created.model_dump(mode="json")),
                    "ramp_id": created.id, "amount_minor": created.amount.amount,
                    "currency": created.amount.currency_code, "status_in_ramp": created.status},
        )  # fmt: skip

    async def _update_bill(self, action: UpdateBill) -> None:
        action = self._resolved(action)
        subject = (action.subject.kind.value, action.subject.id)
        payload = dict(action.payload)
        try:
            body = wire.BillUpdate.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise NeedsAttentionError(
                f"the bill update cannot be sent to Ramp: {_first_error(exc)}",
                code="bill.invalid_request",
            ) from exc
        taken = await self._take_intent(
            fb_type=action.subject.kind.value, fb_id=action.subject.id,
            ramp_type=RampKind.BILL.value, operation="update", digest=audit.digest(payload),
            audit_object=subject, request=_request("PATCH", action.path, payload),
        )  # fmt: skip
        updated = await self._call(
            taken, subject, lambda: self._ramp.bills.patch(action.ramp_bill_id, body),
            creates=False, what=f"update bill {action.ramp_bill_id}",
        )  # fmt: skip
        await self._finish(
            taken, succeeded=True, ramp_id=updated.id, audit_object=subject, step=Step.RESPONSE,
            link=(action.subject.kind.value, action.subject.id, RampKind.BILL.value),
            link_hash=action.content_hash,
            detail={"status": 200, "digest": audit.digest(updated.model_dump(mode="json")),
                    "amount_minor": updated.amount.amount},
        )  # fmt: skip

    async def _archive_bill(self, action: ArchiveBill) -> None:
        subject = (action.subject.kind.value, action.subject.id)
        taken = await self._take_intent(
            fb_type=action.subject.kind.value, fb_id=action.subject.id,
            ramp_type=RampKind.BILL.value, operation="archive",
            digest=audit.digest({"archive": action.ramp_bill_id}), audit_object=subject,
            request={"method": "DELETE", "path": action.path},
        )  # fmt: skip
        await self._call(
            taken, subject, lambda: self._ramp.bills.archive(action.ramp_bill_id),
            creates=False, what=f"archive bill {action.ramp_bill_id}",
        )  # fmt: skip
        await self._finish(
            taken, succeeded=True, ramp_id=action.ramp_bill_id, audit_object=subject,
            step=Step.RESPONSE, detail={"status": 204, "archived": True},
            link=(action.subject.kind.value, action.subject.id, RampKind.BILL.value),
            link_hash=action.content_hash,
        )  # fmt: skip

    # --- card transactions -----------------------------------------------------------

    async def _code_transaction(self, code: CodeTransaction | None, memo: SetMemo | None) -> None:
        first = code or memo
        assert first is not None
        tx_id = first.ramp_transaction_id
        subject = (first.subject.kind.value, first.subject.id)
        fb_kind, fb_id = subject
        claim_digest = audit.digest({"claimed_by": [fb_kind, fb_id], "transaction": tx_id})

        async def unclaimed(db: AsyncConnection) -> None:
            # Read after our intent is in, so a claim that committed meanwhile is seen.
            other = await links_store.find_by_ramp_id(
                db,
                connection_id=self._connection_id,
                ramp_type=RampKind.TRANSACTION.value,
                ramp_id=tx_id,
            )
            if other is not None and (other.fb_type, other.fb_id) != subject:
                raise _ClaimedError(f"{other.fb_type} {other.fb_id}")

        request = {
            "transaction": tx_id,
            "coding": None if code is None else _request("PATCH", code.path, code.payload),
            "memo": None if memo is None else _request("POST", memo.path, memo.payload),
        }
        try:
            taken = await self._take_intent(
                fb_type=CLAIM_FB_TYPE, fb_id=tx_id, ramp_type=RampKind.TRANSACTION.value,
                operation="claim", digest=claim_digest, audit_object=subject, request=request,
                check=unclaimed, adopt=lambda intent: intent.request_digest == claim_digest,
            )  # fmt: skip
        except _ClaimedError as exc:
            raise RetriableError(
                f"card transaction {tx_id} was just claimed by FreshBooks {exc}; re-planning",
                retry_after=CONTENDED_RETRY_SECONDS,
            ) from exc
        coded = None
        if code is not None:
            lines = [
                wire.TransactionLineItemCoding.model_validate(line)
                for line in code.payload["line_items"]
            ]
            coded = await self._call(
                taken, subject, lambda: self._ramp.transactions.patch_coding(tx_id, lines),
                creates=False, what=f"code card transaction {tx_id}",
            )  # fmt: skip
        if memo is not None:
            text = str(memo.payload["memo"])
            await self._call(
                taken, subject, lambda: self._ramp.transactions.set_memo(tx_id, text),
                creates=False, what=f"set the memo of card transaction {tx_id}",
            )  # fmt: skip
        await self._finish(
            taken, succeeded=True, ramp_id=tx_id, audit_object=subject, step=Step.RESPONSE,
            link=(fb_kind, fb_id, RampKind.TRANSACTION.value), link_hash=first.content_hash,
            detail={"coded": code is not None, "memo": memo is not None,
                    "digest": None if coded is None else audit.digest(coded.model_dump(mode="json"))},
        )  # fmt: skip


def _request(method: str, path: str, payload: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "digest": audit.digest(dict(payload)),
        "body": dict(payload),
        **extra,
    }


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "request"
    return f"{where}: {error['msg']}"


class ContendedError(RetriableError):
    """Another running job (`owner_job_id`) holds the Ramp write this plan needs."""

    def __init__(self, message: str, *, owner_job_id: int, intent_id: int) -> None:
        super().__init__(message, retry_after=CONTENDED_RETRY_SECONDS)
        self.owner_job_id = owner_job_id
        self.intent_id = intent_id


class _StalePlanError(RetriableError):
    """A vendor create that waited its turn found its plan overtaken: re-plan at once."""

    def __init__(self, message: str, *, behind_job_id: int | None) -> None:
        super().__init__(message, retry_after=CONTENDED_POLL_SECONDS)
        self.behind_job_id = behind_job_id


class _ClaimedError(Exception):
    """The transaction is linked to another FreshBooks object."""


class _NoContactError(Exception):
    """Audit marker: the vendor found has no contact, nothing was written."""

    def __str__(self) -> str:
        return "the Ramp vendor found has no contact"


class _NotCreatedError(Exception):
    """Audit marker: the earlier attempt's bill is not in Ramp, so it was never created."""

    def __str__(self) -> str:
        return "no Ramp bill carries our remote_id: the earlier attempt did not create it"


# --- one object's job ----------------------------------------------------------------


@dataclass
class SyncDeps:
    """What every sync handler shares in a process: the runtime and the caches."""

    runtime: Runtime
    caches: Caches


class Planner(Protocol):
    """Plans one object; `wire` is the object as listed, when the job may plan from it."""

    def __call__(self, session: Session, fb_id: str, *, wire: Any = None) -> Awaitable[Planned]: ...


async def _check_connection(deps: SyncDeps, connection_id: int) -> Connection:
    connection = await deps.runtime.connection(connection_id)
    if connection.status is ConnectionStatus.PAUSED:
        raise RetriableError(
            f"connection {connection.name!r} is paused; the object syncs once it is resumed",
            retry_after=PAUSED_RETRY_SECONDS,
        )
    if connection.status is not ConnectionStatus.ACTIVE:
        raise NeedsAttentionError(
            f"connection {connection.name!r} is {connection.status.value}"
            + (f" ({connection.status_reason})" if connection.status_reason else "")
            + "; reconnect it, then replay",
            code="connection_inactive",
        )
    return connection


async def _mapping_for(deps: SyncDeps, job: Job, kind: FreshBooksKind, fb_id: str) -> int | None:
    replay = job.args.get(REPLAY_ARG)
    if isinstance(replay, dict) and replay.get("mapping") == "original":
        return await original_mapping_version(
            deps.runtime, int(job.args["connection_id"]), kind, fb_id
        )
    return None


async def run_object_sync(deps: SyncDeps, job: Job, kind: FreshBooksKind, plan: Planner) -> None:
    """Received → fetched → mapped → Ramp writes → outcome, for one FreshBooks object.

    Every exit records an outcome in the object's audit chain, then lets the error
    steer the queue: reviews park the job ("attention") with their reasons, a wait
    or a lost race retries later, 429/5xx retry with backoff.
    """
    runtime = deps.runtime
    connection_id = int(job.args["connection_id"])
    fb_id = str(job.args["fb_id"])
    trail = Trail(
        runtime.engine,
        connection_id=connection_id,
        clock=runtime.clock,
        job_id=job.id,
        actor=f"worker:{job.kind}:{job.id}",
    )
    trail.received(kind.value, fb_id, {**job.args, "_kind": job.kind})
    try:
        connection = await _check_connection(deps, connection_id)
        version = await _mapping_for(deps, job, kind, fb_id)
        async with open_session(
            runtime, connection, deps.caches, mapping_version=version
        ) as session:
            listed = snapshots.from_job(job, kind)
            planned = await plan(session, fb_id, wire=listed)
            if planned.wire is None:
                await trail.outcome(
                    kind.value, fb_id, "not_found", {"reason": "FreshBooks no longer has it"}
                )
                return
            trail.fetched(kind.value, fb_id, planned.wire, listed=listed is not None)
            planned, report = await _execute_plan(
                deps, session, trail, kind=kind, fb_id=fb_id, plan=plan, planned=planned
            )
            # An unchanged object's outcome still names its Ramp object: after a crash
            # between the write and its outcome, the retry's row is the only outcome.
            linked = (
                None if report.written
                else next(iter(await load_links(runtime, connection_id, [(kind, fb_id)])), None)
            )  # fmt: skip
            await _conclude(
                trail, kind=kind, fb_id=fb_id, planned=planned, report=report,
                today=session.today, wait_days=session.config.expenses.wait_days,
                linked_ramp_id=None if linked is None else linked.ramp_id,
            )  # fmt: skip
    except _ConcludedError:
        raise
    except NeedsAttentionError as exc:
        await trail.outcome(
            kind.value, fb_id, "needs_attention", {"code": exc.code, "reason": exc.reason}
        )
        raise
    except RetriableError as exc:
        await trail.outcome(
            kind.value, fb_id, "retry", {"reason": str(exc), "retry_after": exc.retry_after}
        )
        raise
    except ConnectorError as exc:
        await trail.outcome(
            kind.value, fb_id, "failed", {"error": type(exc).__name__, "reason": str(exc)[:500]}
        )
        raise
    except Exception:
        await trail.flush()  # what was read and decided before the bug, for its report
        raise


async def _execute_plan(
    deps: SyncDeps, session: Session, trail: Trail, *, kind: FreshBooksKind, fb_id: str,
    plan: Planner, planned: Planned,
) -> tuple[Planned, ExecutionReport]:  # fmt: skip
    """Run the plan; when another job holds a write it needs, wait for it and re-plan.

    A re-plan sees what the winner wrote (its link, its vendor) and so usually plans to
    use it instead of writing again; plans are idempotent, so nothing already done in
    this attempt is repeated.
    """
    runtime = deps.runtime
    changed_at = _updated_at(planned.wire)
    if not session.strict and any(isinstance(a, Review) for a in planned.actions):
        # A review costs a person's time: confirm it against reference data read now,
        # not a cache that may predate the vendor or account another job just added.
        session.strict = True
        planned = await plan(session, fb_id, wire=planned.wire)
        if _needs_a_vendor(planned) and await _vendor_syncs_unfinished(runtime, trail):
            raise RetriableError(
                "no Ramp vendor for this expense yet while vendor syncs are still running "
                "(a backfill creates vendors first); trying again once they are done",
                retry_after=VENDOR_SYNCS_RETRY_SECONDS,
            )
    patience = _Patience(polls=int(CONTENDED_WAIT_SECONDS / CONTENDED_POLL_SECONDS))
    for replans in range(MAX_REPLANS + 1):
        trail.mapped(
            kind.value, fb_id, mapping_version=session.mapping_version, actions=planned.actions
        )
        executor = Executor(
            engine=runtime.engine, ramp=session.ramp, clock=runtime.clock, trail=trail,
            cache=deps.caches.ramp, mapping_version=session.mapping_version,
            vendor_policy=session.config.vendors,
            changed=None if changed_at is None else (kind.value, fb_id, changed_at),
            signals=deps.caches.intents, turns=deps.caches.vendor_turns,
        )  # fmt: skip
        try:
            return planned, await executor.run(planned.actions)
        except _StalePlanError as exc:
            if replans == MAX_REPLANS:
                raise
            trail.hold(
                kind.value, fb_id, Step.CONTENDED,
                {"waited_for_job": exc.behind_job_id, "reason": str(exc)},
            )  # fmt: skip
        except ContendedError as exc:
            if replans == MAX_REPLANS or not await _wait_for_write(deps, exc, patience):
                raise
            trail.hold(
                kind.value, fb_id, Step.CONTENDED,
                {"waited_for_job": exc.owner_job_id, "reason": str(exc)},
            )  # fmt: skip
        planned = await plan(session, fb_id, wire=planned.wire)
    raise AssertionError("unreachable: the last round returns or raises")


def _needs_a_vendor(planned: Planned) -> bool:
    return any(isinstance(a, Review) and a.code == "expense.no_vendor" for a in planned.actions)


async def _vendor_syncs_unfinished(runtime: Runtime, trail: Trail) -> bool:
    async with read(runtime.engine) as db:
        pending = await list_jobs(
            db, states=(*WAITING, JobState.RUNNING), kind=Kind.SYNC_VENDOR.value,
            connection_id=trail.connection_id, limit=1,
        )  # fmt: skip
    return bool(pending)


@dataclass
class _Patience:
    """What is left of one attempt's waiting for winners, in polls."""

    polls: int


async def _wait_for_write(deps: SyncDeps, contended: ContendedError, patience: _Patience) -> bool:
    """True once the winner's write is done (or its job no longer runs), False if it is
    still going when the attempt's patience runs out.

    The write, not the winner's whole job: a bill job that created the vendor goes on to
    create its own bill, and everything waiting on the vendor need not wait for that.
    Bounded by a number of polls with real sleeps, not by the injected clock: what is
    awaited is another task's actual progress, which a test's moved clock cannot hurry.
    A winner in this process cuts the wait short through `IntentSignals`.
    """
    async with parked():  # waiting costs no CPU: let the worker run another job meanwhile
        while patience.polls > 0:
            async with read(deps.runtime.engine) as db:
                intent = await links_store.intent_by_id(db, contended.intent_id)
                if intent is None or intent.state is not IntentState.PENDING:
                    return True
                owner = await get_job(db, contended.owner_job_id)
            if owner is None or owner.state is not JobState.RUNNING:
                return True
            patience.polls -= 1
            await deps.caches.intents.wait(contended.intent_id, at_most=CONTENDED_POLL_SECONDS)
    return False


def _updated_at(wire_object: object) -> datetime | None:
    """FreshBooks' last-change time of an object (bills and vendors say ``updated_at``,
    expenses ``updated``), or None when FreshBooks did not give one."""
    for name in ("updated_at", "updated"):
        value = getattr(wire_object, name, None)
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
    return None


class _ConcludedError(NeedsAttentionError):
    """Reviews already written to the trail, one outcome row per object."""


async def _conclude(
    trail: Trail,
    *,
    kind: FreshBooksKind,
    fb_id: str,
    planned: Planned,
    report: ExecutionReport,
    today: date,
    wait_days: int,
    linked_ramp_id: str | None = None,
) -> None:
    for review in report.reviews:
        await trail.outcome(
            review.subject.kind.value, review.subject.id, "needs_attention",
            {"code": review.code, "reason": review.reason,
             "problems": [str(p) for p in review.problems],
             "candidates": list(review.candidates)},
        )  # fmt: skip
    if report.reviews:
        first = report.reviews[-1]
        reasons = "; ".join(f"{r.subject}: {r.reason}" for r in report.reviews)
        raise _ConcludedError(reasons, code=first.code)
    if report.wait is not None:
        raise RetriableError(
            f"waiting: {report.wait.reason}",
            retry_after=wait_retry_after(report.wait.until, today, wait_days),
        )
    result = "synced" if report.written else "unchanged"
    await trail.outcome(
        kind.value, fb_id, result,
        {"written": [list(w) for w in report.written],
         "reasons": [a.reason for a in planned.actions], **planned.notes},
        ramp_id=report.written[-1][3] if report.written else linked_ramp_id,
    )  # fmt: skip
