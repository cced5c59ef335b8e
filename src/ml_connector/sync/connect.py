"""Webhook registration and the handshake / event jobs the webhook endpoints enqueue.

- `REGISTER_WEBHOOKS` makes what exists match what we want, idempotently: one FreshBooks
  callback per event noun (`bill`, `bill_vendor`, `expense`, `category`; a bare noun
  covers every verb, reference §6.1/§6.3) and one Ramp subscription (§9.3) pointing at
  this connection's URLs. It deletes our duplicates and stale hooks, re-creates
  disabled or long-unverified ones, and asks FreshBooks to resend the verifier where the
  handshake was lost. It runs on connect and periodically (the scheduler enqueues it).
- `FRESHBOOKS_VERIFY_CALLBACK` sends a handshake's verifier back; only when FreshBooks
  accepts it does the verifier become a trusted signing key.
- `RAMP_VERIFY_WEBHOOK` echoes a subscription's challenge to Ramp.
- `RAMP_EVENT` writes what Ramp did (bill paid, vendor approved…) into the audit trail
  of the object it concerns.

No database transaction is held across an HTTP call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.clients.freshbooks import Callback, Callbacks, FreshBooksClient
from ml_connector.clients.ramp import RampClient
from ml_connector.core.errors import ApiValidationError, NeedsAttentionError, NotFoundError
from ml_connector.queue import Enqueued, Job, Lane, Registry, enqueue
from ml_connector.store import audit, inbox, read
from ml_connector.store import links as links_store
from ml_connector.store.connections import Connection
from ml_connector.sync import webhook_secrets
from ml_connector.sync.kinds import Kind
from ml_connector.sync.runtime import Runtime

log = structlog.get_logger(__name__)

FRESHBOOKS_EVENT_NOUNS: tuple[str, ...] = ("bill", "bill_vendor", "expense", "category")
FRESHBOOKS_VERBS: tuple[str, ...] = ("create", "update", "delete")

RAMP_EVENT_TYPES: tuple[str, ...] = (
    "bills.approved",
    "bills.archived",
    "bills.created",
    "bills.paid",
    "bills.rejected",
    "payments.updated",
    "transactions.body_coding_updated",
    "transactions.cleared",
    "vendors.activated",
    "vendors.approved",
    "vendors.updated",
)
"""The Ramp events that confirm what happened to objects we write (reference §9.3). Only
names Ramp's docs or two agreeing readings list: subscribing to an unknown type would
fail the whole subscription."""

RAMP_LINK_TYPES: dict[str, tuple[str, ...]] = {
    "bills": ("bill",),
    "payments": ("bill",),
    "vendors": ("vendor",),
    "transactions": ("transaction",),
}
"""Ramp event family → the `ramp_type` of links that can stand for its object."""

UNVERIFIED_GRACE = timedelta(minutes=15)
"""A hook still unverified this long after its last change lost its handshake: a FreshBooks
callback gets the verifier resent, a Ramp subscription is replaced."""

RAMP_EVENT_STEP = "ramp.event"


def freshbooks_webhook_url(runtime: Runtime, connection_id: int) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}/webhooks/freshbooks/{connection_id}"


def ramp_webhook_url(runtime: Runtime, connection_id: int) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}/webhooks/ramp/{connection_id}"


async def enqueue_register_webhooks(
    db: AsyncConnection, *, connection_id: int, now: datetime
) -> Enqueued:
    """Ask for the webhook audit of a connection (on connect, and from the scheduler)."""
    return await enqueue(
        db,
        kind=Kind.REGISTER_WEBHOOKS.value,
        args={"connection_id": connection_id},
        now=now,
        connection_id=connection_id,
        priority=Lane.LIVE,
        lock_key=f"{connection_id}:webhooks",
        unique_key=f"{Kind.REGISTER_WEBHOOKS.value}:{connection_id}",
    )


@dataclass
class RegistrationReport:
    """What one audit changed (ids only; no secrets)."""

    freshbooks_registered: list[str] = field(default_factory=list)
    freshbooks_deleted: list[str] = field(default_factory=list)
    freshbooks_resent: list[str] = field(default_factory=list)
    freshbooks_reverify: list[str] = field(default_factory=list)
    freshbooks_kept: list[str] = field(default_factory=list)
    ramp_subscribed: list[str] = field(default_factory=list)
    ramp_deleted: list[str] = field(default_factory=list)
    ramp_kept: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.freshbooks_registered
            or self.freshbooks_deleted
            or self.freshbooks_resent
            or self.freshbooks_reverify
            or self.ramp_subscribed
            or self.ramp_deleted
        )


# --- the audit ------------------------------------------------------------------------


def _best(callbacks: Sequence[Callback]) -> Callback | None:
    """The callback to keep among equivalents: verified first, then the oldest."""
    ranked = sorted(callbacks, key=lambda c: (not c.verified, c.callbackid))
    return ranked[0] if ranked else None


async def _register_noun(
    api: Callbacks, noun: str, uri: str, ours: list[Callback], report: RegistrationReport
) -> list[Callback]:
    """The callbacks that cover `noun` after this step (registering what is missing)."""
    noun_callbacks = [c for c in ours if c.event == noun]
    kept = _best(noun_callbacks)
    if kept is not None:
        return [kept]
    try:
        created = await api.register(noun, uri)
    except ApiValidationError:
        # FreshBooks refused the bare noun: fall back to one callback per verb (§6.3).
        covering: list[Callback] = []
        for verb in FRESHBOOKS_VERBS:
            event = f"{noun}.{verb}"
            existing = _best([c for c in ours if c.event == event])
            if existing is None:
                existing = await api.register(event, uri)
                report.freshbooks_registered.append(str(existing.callbackid))
            covering.append(existing)
        return covering
    report.freshbooks_registered.append(str(created.callbackid))
    return [created]


async def audit_freshbooks(
    runtime: Runtime, connection: Connection, fb: FreshBooksClient, report: RegistrationReport
) -> None:
    account_id = connection.freshbooks_account_id
    if account_id is None:
        raise NeedsAttentionError(
            f"connection {connection.name!r} has no FreshBooks business yet: connect FreshBooks",
            code="freshbooks_not_connected",
        )
    uri = freshbooks_webhook_url(runtime, connection.id)
    api = fb.callbacks(account_id)
    ours = [c async for c in api.list() if c.uri == uri]
    wanted: list[Callback] = []
    for noun in FRESHBOOKS_EVENT_NOUNS:
        wanted += await _register_noun(api, noun, uri, ours, report)
    wanted_ids = {c.callbackid for c in wanted}
    new_ids = set(report.freshbooks_registered)
    for callback in ours:
        if callback.callbackid not in wanted_ids:
            await api.delete(callback.callbackid)
            report.freshbooks_deleted.append(str(callback.callbackid))
    async with read(runtime.engine) as db:
        known = await webhook_secrets.freshbooks_callback_ids(db, connection.id)
        confirmed = await webhook_secrets.freshbooks_verifiers(db, runtime.cipher, connection.id)
    reverify: list[str] = []
    now = runtime.clock()
    for callback in wanted:
        callback_id = str(callback.callbackid)
        report.freshbooks_kept.append(callback_id)
        if callback_id in new_ids:
            continue  # FreshBooks sends the handshake of a new callback by itself
        if callback.verified and callback_id in confirmed:
            continue
        recent = callback.updated_at is not None and now - callback.updated_at < UNVERIFIED_GRACE
        if not callback.verified and recent and callback_id not in known:
            continue  # its handshake may still be on the way
        if callback_id in known and callback_id not in confirmed:
            reverify.append(callback_id)  # the handshake arrived; the verify job did not finish
        else:
            # Unverified with no handshake on record, or verified but we lost the key:
            # FreshBooks sends the same verifier again.
            await api.resend(callback.callbackid)
            report.freshbooks_resent.append(callback_id)
    async with runtime.engine.begin() as db:
        for callback_id in known - {str(c.callbackid) for c in wanted}:
            await webhook_secrets.forget_freshbooks_callback(
                db, connection_id=connection.id, callback_id=callback_id
            )
        for callback_id in reverify:
            await enqueue_verify_callback(
                db, connection_id=connection.id, callback_id=callback_id, now=now
            )
            report.freshbooks_reverify.append(callback_id)


async def enqueue_verify_callback(
    db: AsyncConnection, *, connection_id: int, callback_id: str, now: datetime
) -> Enqueued:
    kind = Kind.FRESHBOOKS_VERIFY_CALLBACK.value
    return await enqueue(
        db,
        kind=kind,
        args={"connection_id": connection_id, "callback_id": callback_id},
        now=now,
        connection_id=connection_id,
        priority=Lane.LIVE,
        unique_key=f"{kind}:{connection_id}:{callback_id}",
    )


async def audit_ramp(
    runtime: Runtime, connection: Connection, ramp: RampClient, report: RegistrationReport
) -> None:
    url = ramp_webhook_url(runtime, connection.id)
    ours = [s for s in await ramp.webhooks.list() if s.endpoint_url == url]
    async with read(runtime.engine) as db:
        secrets = await webhook_secrets.ramp_secrets(db, runtime.cipher, connection.id)
    now = runtime.clock()
    wanted = set(RAMP_EVENT_TYPES)

    def usable(status: str | None, created_at: datetime | None) -> bool:
        if status == "active":
            return True
        fresh = created_at is not None and now - created_at < UNVERIFIED_GRACE
        return status == "pending_verification" and fresh

    candidates = sorted(
        (
            s
            for s in ours
            if s.id in secrets and wanted <= set(s.event_types) and usable(s.status, s.created_at)
        ),
        key=lambda s: (not s.is_active, s.id),
    )
    keep = candidates[0] if candidates else None
    for subscription in ours:
        if keep is None or subscription.id != keep.id:
            await ramp.webhooks.delete(subscription.id)
            report.ramp_deleted.append(subscription.id)
    if keep is None:
        created = await ramp.webhooks.subscribe(url, RAMP_EVENT_TYPES)
        async with runtime.engine.begin() as db:
            await webhook_secrets.store_ramp_secret(
                db,
                runtime.cipher,
                connection_id=connection.id,
                subscription_id=created.id,
                secret=created.secret,
                now=runtime.clock(),
            )
        report.ramp_subscribed.append(created.id)
        kept_id = created.id
    else:
        report.ramp_kept.append(keep.id)
        kept_id = keep.id
    async with runtime.engine.begin() as db:
        for subscription_id in set(secrets) - {kept_id}:
            await webhook_secrets.forget_ramp_secret(
                db, connection_id=connection.id, subscription_id=subscription_id
            )


async def register_webhooks(runtime: Runtime, connection_id: int) -> RegistrationReport:
    """Audit and repair both vendors' webhooks for a connection; safe to run any time."""
    connection = await runtime.connection(connection_id)
    report = RegistrationReport()
    async with runtime.clients(connection) as (fb, ramp):
        await audit_freshbooks(runtime, connection, fb, report)
        await audit_ramp(runtime, connection, ramp, report)
    log.info(
        "webhooks.audited",
        connection_id=connection_id,
        changed=report.changed,
        freshbooks_registered=len(report.freshbooks_registered),
        freshbooks_deleted=len(report.freshbooks_deleted),
        freshbooks_resent=len(report.freshbooks_resent),
        ramp_subscribed=len(report.ramp_subscribed),
        ramp_deleted=len(report.ramp_deleted),
    )
    return report


# --- handshakes -----------------------------------------------------------------------


async def verify_freshbooks_callback(
    runtime: Runtime, connection_id: int, callback_id: str
) -> bool:
    """Send the pending verifier back; True once FreshBooks confirmed it (now or before)."""
    connection = await runtime.connection(connection_id)
    if connection.freshbooks_account_id is None:
        raise NeedsAttentionError(
            f"connection {connection.name!r} has no FreshBooks business yet",
            code="freshbooks_not_connected",
        )
    async with read(runtime.engine) as db:
        verifier = await webhook_secrets.pending_freshbooks_verifier(
            db, runtime.cipher, connection_id, callback_id
        )
        confirmed = await webhook_secrets.freshbooks_verifiers(db, runtime.cipher, connection_id)
    if verifier is None:
        return callback_id in confirmed
    fb = runtime.freshbooks_client(connection)
    try:
        callback = await fb.callbacks(connection.freshbooks_account_id).verify(
            int(callback_id), verifier
        )
    except (NotFoundError, ApiValidationError):
        # Not a callback of this account, or not its verifier: the handshake was not
        # FreshBooks'. Drop the unproven key so it can never sign anything.
        async with runtime.engine.begin() as db:
            current = await webhook_secrets.pending_freshbooks_verifier(
                db, runtime.cipher, connection_id, callback_id
            )
            if current == verifier:
                await webhook_secrets.forget_freshbooks_callback(
                    db, connection_id=connection_id, callback_id=callback_id
                )
        log.warning(
            "webhooks.verifier_refused", connection_id=connection_id, callback_id=callback_id
        )
        raise
    finally:
        await fb.aclose()
    async with runtime.engine.begin() as db:
        await webhook_secrets.confirm_verifier(
            db,
            runtime.cipher,
            connection_id=connection_id,
            callback_id=callback_id,
            verifier=verifier,
            now=runtime.clock(),
        )
    log.info(
        "webhooks.callback_verified",
        connection_id=connection_id,
        callback_id=callback_id,
        verified=callback.verified,
    )
    return True


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _object_id(envelope: dict[str, Any]) -> str | None:
    obj = envelope.get("object")
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and value else None


async def verify_ramp_webhook(runtime: Runtime, connection_id: int, inbox_id: int) -> str | None:
    """Echo a verification challenge; returns the subscription Ramp activated, if any."""
    async with read(runtime.engine) as db:
        delivery = await inbox.get(db, inbox_id)
    if delivery is None or delivery.connection_id != connection_id:
        return None
    envelope = _envelope(delivery.body)
    challenge = envelope.get("challenge")
    activated: str | None = None
    if isinstance(challenge, str) and challenge:
        connection = await runtime.connection(connection_id)
        url = ramp_webhook_url(runtime, connection_id)
        ramp = await runtime.ramp_client(connection)
        try:
            ours = [s for s in await ramp.webhooks.list() if s.endpoint_url == url]
            named = _object_id(envelope)
            # The challenge's envelope is undocumented (§9.2): use the subscription it names
            # if any, else try each of ours still waiting; a wrong one refuses harmlessly.
            candidates = [s for s in ours if s.id == named] or [s for s in ours if not s.is_active]
            for subscription in candidates:
                if subscription.is_active:
                    continue
                try:
                    accepted = await ramp.webhooks.verify(subscription.id, challenge)
                except ApiValidationError:
                    continue
                if accepted:
                    activated = subscription.id
                    break
        finally:
            await ramp.aclose()
    async with runtime.engine.begin() as db:
        await inbox.mark_processed(db, inbox_id, now=runtime.clock())
    log.info(
        "webhooks.ramp_verification",
        connection_id=connection_id,
        inbox_id=inbox_id,
        activated=activated is not None,
    )
    return activated


# --- Ramp events ----------------------------------------------------------------------


async def record_ramp_event(
    runtime: Runtime, connection_id: int, inbox_id: int, *, job_id: int | None = None
) -> audit.AuditEntry | None:
    """Append the event to the audit trail of the object it concerns; mark it processed."""
    async with runtime.engine.begin() as db:
        delivery = await inbox.get(db, inbox_id)
        if delivery is None or delivery.connection_id != connection_id:
            return None
        envelope = _envelope(delivery.body)
        event_type = envelope.get("type")
        ramp_id = _object_id(envelope)
        entry: audit.AuditEntry | None = None
        if isinstance(event_type, str) and ramp_id is not None:
            family = event_type.partition(".")[0]
            link = None
            for ramp_type in RAMP_LINK_TYPES.get(family, ()):
                link = await links_store.find_by_ramp_id(
                    db, connection_id=connection_id, ramp_type=ramp_type, ramp_id=ramp_id
                )
                if link is not None:
                    break
            detail = {
                "event_id": envelope.get("id"),
                "event_type": event_type,
                "event_created_at": envelope.get("created_at"),
                "inbox_id": inbox_id,
                "linked": link is not None,
            }
            entry = await audit.append(
                db,
                object_type=link.fb_type if link is not None else family.removesuffix("s"),
                fb_id=link.fb_id if link is not None else None,
                ramp_id=ramp_id,
                step=RAMP_EVENT_STEP,
                actor="ramp",
                connection_id=connection_id,
                job_id=job_id,
                at=runtime.clock(),
                detail=detail,
            )
        await inbox.mark_processed(db, inbox_id, now=runtime.clock())
    return entry


# --- registration ---------------------------------------------------------------------


def register_connect_handlers(registry: Registry, runtime: Runtime) -> None:
    """Register the webhook audit, both handshakes and Ramp event recording."""

    async def register(job: Job) -> None:
        await register_webhooks(runtime, int(job.args["connection_id"]))

    async def verify_callback(job: Job) -> None:
        await verify_freshbooks_callback(
            runtime, int(job.args["connection_id"]), str(job.args["callback_id"])
        )

    async def verify_ramp(job: Job) -> None:
        await verify_ramp_webhook(
            runtime, int(job.args["connection_id"]), int(job.args["inbox_id"])
        )

    async def ramp_event(job: Job) -> None:
        await record_ramp_event(
            runtime, int(job.args["connection_id"]), int(job.args["inbox_id"]), job_id=job.id
        )

    registry.register(Kind.REGISTER_WEBHOOKS.value, register)
    registry.register(Kind.FRESHBOOKS_VERIFY_CALLBACK.value, verify_callback)
    registry.register(Kind.RAMP_VERIFY_WEBHOOK.value, verify_ramp)
    registry.register(Kind.RAMP_EVENT.value, ramp_event)


__all__ = [
    "FRESHBOOKS_EVENT_NOUNS",
    "RAMP_EVENT_TYPES",
    "RegistrationReport",
    "audit_freshbooks",
    "audit_ramp",
    "enqueue_register_webhooks",
    "enqueue_verify_callback",
    "freshbooks_webhook_url",
    "ramp_webhook_url",
    "record_ramp_event",
    "register_connect_handlers",
    "register_webhooks",
    "verify_freshbooks_callback",
    "verify_ramp_webhook",
]
