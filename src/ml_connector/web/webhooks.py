"""Webhook endpoints: verify on the raw bytes, record + enqueue in one transaction, 2xx.

    POST /webhooks/freshbooks/{connection_id}
    POST /webhooks/ramp/{connection_id}

No vendor API is called inside a request: the handshakes that need an outbound call
(FreshBooks' verifier, Ramp's challenge) are recorded and handed to a job like any other
event. Answers, per reference §3.2: 401 for a missing or wrong signature (nothing is
stored), 413 for an oversize body, 404 for an unknown connection, 200 for a duplicate,
503 when the commit fails so the vendor retries.

A delivery costs a share of one write transaction: the connection and its keys come from
the process's short-lived copy (`AppDeps.webhook_keys`), re-read before any 401 or 403 so
that no refusal rests on a stale copy, and the deliveries that arrive while another write
is in progress are recorded and enqueued together (`AppDeps.delivery_writer`, group
commit); each is answered once the transaction holding it has committed. The FreshBooks
verifier handshake, rare and with a secret to store, keeps a transaction of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector.core.signatures import freshbooks as fb_signatures
from ml_connector.core.signatures import ramp as ramp_signatures
from ml_connector.metrics import observe_webhook
from ml_connector.queue import Lane, NewJob, enqueue
from ml_connector.store import inbox
from ml_connector.store.connections import Connection, ConnectionNotFoundError
from ml_connector.sync import webhook_secrets
from ml_connector.sync.kinds import Kind, Source, object_sync_job
from ml_connector.sync.webhook_secrets import WebhookKeys
from ml_connector.web.delivery_writer import Delivery
from ml_connector.web.deps import AppDeps

log = structlog.get_logger(__name__)

FRESHBOOKS = "freshbooks"
RAMP = "ramp"

EVENT_KINDS: Mapping[str, Kind] = {
    "bill": Kind.SYNC_BILL,
    "bill_vendor": Kind.SYNC_VENDOR,
    "expense": Kind.SYNC_EXPENSE,
    "category": Kind.SYNC_CATEGORY,
}
"""FreshBooks event noun → the object sync it triggers; other nouns are only recorded.
A `*.delete` enqueues the same sync: the handler reads `vis_state` and archives."""

RAMP_VERIFICATION_EVENT = "webhooks.verification"

_CALLBACK_ID = re.compile(r"^[0-9]{1,20}$")
_OBJECT_ID = _CALLBACK_ID
"""FreshBooks object ids are integers; a signed event naming anything else is malformed
(and must not become a job whose id reaches a lock key, a URL or a text column)."""
_EVENT_ID = re.compile(r"^[A-Za-z0-9_\-:.]{1,100}$")


class BodyTooLargeError(Exception):
    """The request body exceeds the webhook limit."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing early when Content-Length or the streamed bytes exceed `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(source: str, outcome: str, status: int, **extra: Any) -> Response:
    observe_webhook(source, outcome)
    return JSONResponse({"outcome": outcome, **extra}, status_code=status)


def _path_connection_id(request: Request) -> int | None:
    raw = request.path_params.get("connection_id", "")
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


_KEY_PREFIX = {
    FRESHBOOKS: webhook_secrets.FRESHBOOKS_VERIFIER,
    RAMP: webhook_secrets.RAMP_WEBHOOK_SECRET,
}

T = TypeVar("T")


@dataclass(frozen=True)
class _Refusal:
    """A refusal decided against a copy of the keys, answered only once it is final."""

    outcome: str
    status: int
    event: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def may_be_stale(self) -> bool:
        # Only these depend on the keys or the connection's linked account.
        return self.status in {401, 403}


_WRONG_ACCOUNT = _Refusal("wrong_account", 403, "webhook.wrong_account")


@dataclass(frozen=True)
class _Lookup:
    keys: WebhookKeys
    fresh: bool
    """Read from the database for this request (so a refusal needs no second look)."""


def _refuse(source: str, connection_id: int, refusal: _Refusal) -> Response:
    if refusal.event is not None:
        log.warning(refusal.event, source=source, connection_id=connection_id, **refusal.fields)
    return _answer(source, refusal.outcome, refusal.status)


async def _prelude(
    request: Request, deps: AppDeps, source: str
) -> tuple[_Lookup, bytes] | Response:
    """The connection's keys and the body (size-checked), or the response ending it all."""
    connection_id = _path_connection_id(request)
    if connection_id is None:
        return _answer(source, "unknown_connection", 404)
    try:
        body = await read_limited(request, deps.max_webhook_bytes)
    except BodyTooLargeError:
        log.warning("webhook.too_large", source=source, connection_id=connection_id)
        return _answer(source, "too_large", 413)
    try:
        keys, fresh = await deps.webhook_keys.get(deps.runtime, _KEY_PREFIX[source], connection_id)
    except ConnectionNotFoundError:
        return _answer(source, "unknown_connection", 404)
    return _Lookup(keys, fresh), body


async def _decide(
    deps: AppDeps, source: str, lookup: _Lookup, check: Callable[[WebhookKeys], T | _Refusal]
) -> tuple[WebhookKeys, T] | Response:
    """`check` against the cached keys; a 401/403 is confirmed on a fresh read first."""
    keys = lookup.keys
    decided = check(keys)
    if isinstance(decided, _Refusal) and decided.may_be_stale and not lookup.fresh:
        try:
            keys, _ = await deps.webhook_keys.get(
                deps.runtime, _KEY_PREFIX[source], keys.connection.id, fresh=True
            )
        except ConnectionNotFoundError:
            return _answer(source, "unknown_connection", 404)
        decided = check(keys)
    if isinstance(decided, _Refusal):
        return _refuse(source, keys.connection.id, decided)
    return keys, decided


def _kept_headers(request: Request) -> dict[str, str]:
    # The inbox keeps only its diagnostic allow-list (no cookies, no authorization).
    return dict(request.headers)


async def _store(deps: AppDeps, delivery: Delivery) -> int | None:
    """The delivery's inbox id (None: a duplicate) once its transaction has committed."""
    return await deps.delivery_writer.write(deps.runtime.engine, delivery)


def _unavailable(deps: AppDeps, source: str, connection_id: int, exc: BaseException) -> Response:
    # Any failure to commit must answer 5xx: the vendor retries, and nothing half-written
    # remains because the record and the job share one transaction. The retry reads the
    # connection afresh, in case the failure was that it no longer exists.
    deps.webhook_keys.forget(connection_id)
    log.error(
        "webhook.commit_failed",
        source=source,
        connection_id=connection_id,
        error=type(exc).__name__,
    )
    return _answer(source, "unavailable", 503)


# --- FreshBooks -----------------------------------------------------------------------


def _freshbooks_dedupe_key(connection_id: int, body: bytes, now: datetime) -> str:
    """Only a byte-identical body received at the same instant is the same delivery.

    FreshBooks deliveries carry no delivery id, and an identical body a minute later may
    well be a second change to the same object (an edit, then a payment): dropping it
    would leave that change to the next sweep. Keeping every delivery costs nothing extra
    downstream: the queue coalesces the waiting sync of one object, and handlers re-read
    the object, so a true duplicate is at most one more no-op sync.
    """
    return f"{connection_id}:{inbox.body_digest(body)}:{now.isoformat()}"


def _redacted_handshake(fields: tuple[tuple[str, str], ...]) -> bytes:
    """The handshake body without its verifier, which is only ever stored encrypted."""
    kept = [(k, "[redacted]" if k == "verifier" else v) for k, v in fields]
    return urlencode(kept).encode("ascii")


async def freshbooks_webhook(request: Request) -> Response:
    deps: AppDeps = request.app.state.deps
    prelude = await _prelude(request, deps, FRESHBOOKS)
    if isinstance(prelude, Response):
        return prelude
    lookup, body = prelude
    try:
        fields = fb_signatures.parse_form(body)
    except fb_signatures.InvalidDeliveryError:
        fields = ()
    if any(key == "verifier" for key, _ in fields):
        return await _freshbooks_handshake(deps, lookup, body, fields, request)
    return await _freshbooks_event(deps, lookup, body, request)


def _require_object_id(event: fb_signatures.FreshBooksEvent) -> None:
    if not _OBJECT_ID.match(event.object_id):
        raise fb_signatures.InvalidDeliveryError("object_id is not a FreshBooks id")


def _account_mismatch(connection: Connection, account_id: str | None) -> bool:
    expected = connection.freshbooks_account_id
    return expected is not None and account_id is not None and account_id != expected


async def _freshbooks_handshake(
    deps: AppDeps,
    lookup: _Lookup,
    body: bytes,
    fields: tuple[tuple[str, str], ...],
    request: Request,
) -> Response:
    try:
        delivery = fb_signatures.parse_delivery(body)
    except fb_signatures.InvalidDeliveryError:
        return _answer(FRESHBOOKS, "malformed", 400)
    if not isinstance(delivery, fb_signatures.CallbackVerification) or not _CALLBACK_ID.match(
        delivery.callback_id
    ):
        return _answer(FRESHBOOKS, "malformed", 400)
    account_id = dict(fields).get("account_id")

    def check(keys: WebhookKeys) -> Connection | _Refusal:
        if _account_mismatch(keys.connection, account_id):
            return _WRONG_ACCOUNT
        return keys.connection

    decided = await _decide(deps, FRESHBOOKS, lookup, check)
    if isinstance(decided, Response):
        return decided
    _, connection = decided
    runtime = deps.runtime
    now = runtime.clock()
    try:
        async with runtime.engine.begin() as db:
            # Pending until FreshBooks accepts it back: this POST itself proves nothing.
            await webhook_secrets.store_pending_verifier(
                db,
                runtime.cipher,
                connection_id=connection.id,
                callback_id=delivery.callback_id,
                verifier=delivery.verifier,
                now=now,
            )
            await inbox.record(
                db,
                source=FRESHBOOKS,
                connection_id=connection.id,
                body=_redacted_handshake(fields),
                dedupe_key=f"{connection.id}:handshake:{delivery.callback_id}:"
                f"{inbox.body_digest(body)}:{now.isoformat()}",
                received_at=now,
                headers=_kept_headers(request),
            )
            await enqueue(
                db,
                kind=Kind.FRESHBOOKS_VERIFY_CALLBACK.value,
                args={"connection_id": connection.id, "callback_id": delivery.callback_id},
                now=now,
                connection_id=connection.id,
                priority=Lane.LIVE,
                unique_key=f"{Kind.FRESHBOOKS_VERIFY_CALLBACK.value}:{connection.id}:"
                f"{delivery.callback_id}",
            )
    except Exception as exc:
        return _unavailable(deps, FRESHBOOKS, connection.id, exc)
    log.info(
        "webhook.handshake",
        source=FRESHBOOKS,
        connection_id=connection.id,
        callback_id=delivery.callback_id,
    )
    return _answer(FRESHBOOKS, "handshake", 200)


async def _freshbooks_event(
    deps: AppDeps, lookup: _Lookup, body: bytes, request: Request
) -> Response:
    runtime = deps.runtime
    header = request.headers.get(fb_signatures.SIGNATURE_HEADER)

    def check(keys: WebhookKeys) -> fb_signatures.FreshBooksEvent | _Refusal:
        try:
            event = fb_signatures.verify_event(body, header, keys.secrets)
            _require_object_id(event)
        except fb_signatures.SignatureMismatchError:
            return _Refusal(
                "bad_signature",
                401,
                "webhook.bad_signature",
                {"signed": header is not None, "size": len(body)},
            )
        except fb_signatures.InvalidDeliveryError:
            return _Refusal("malformed", 400)
        if _account_mismatch(keys.connection, event.account_id):
            return _WRONG_ACCOUNT
        return event

    decided = await _decide(deps, FRESHBOOKS, lookup, check)
    if isinstance(decided, Response):
        return decided
    keys, event = decided
    connection = keys.connection
    kind = EVENT_KINDS.get(event.resource)
    now = runtime.clock()
    job = (
        None
        if kind is None
        else object_sync_job(
            kind=kind, connection_id=connection.id, fb_id=event.object_id, source=Source.WEBHOOK
        )
    )
    delivery = Delivery(
        record=inbox.NewDelivery(
            source=FRESHBOOKS,
            connection_id=connection.id,
            body=body,
            dedupe_key=_freshbooks_dedupe_key(connection.id, body, now),
            received_at=now,
            headers=_kept_headers(request),
            # The delivery's whole content (ids) moves into its job, enqueued in the same
            # transaction: once it commits, nothing is left to do.
            processed_at=now,
        ),
        job=None if job is None else lambda _inbox_id: job,
    )
    try:
        delivery_id = await _store(deps, delivery)
    except Exception as exc:
        return _unavailable(deps, FRESHBOOKS, connection.id, exc)
    if delivery_id is None:
        return _answer(FRESHBOOKS, "duplicate", 200)
    outcome = "accepted" if kind is not None else "ignored"
    log.info(
        "webhook.received",
        source=FRESHBOOKS,
        connection_id=connection.id,
        event_name=event.name,
        object_id=event.object_id,
        outcome=outcome,
    )
    return _answer(FRESHBOOKS, outcome, 200, inbox_id=delivery_id)


# --- Ramp -----------------------------------------------------------------------------


def _ramp_envelope(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        return None
    if not isinstance(event_type, str) or not event_type:
        return None
    return data


def _checked_ramp_envelope(
    keys: WebhookKeys, body: bytes, headers: Mapping[str, str]
) -> dict[str, Any] | _Refusal:
    """The verified, well-formed envelope of this connection, or the refusal to send."""
    if not ramp_signatures.verify_delivery(body, headers, keys.secrets):
        return _Refusal(
            "bad_signature",
            401,
            "webhook.bad_signature",
            {"signed": bool(ramp_signatures.signature_values(headers)), "size": len(body)},
        )
    envelope = _ramp_envelope(body)
    if envelope is None:
        return _Refusal("malformed", 400)
    business_id = envelope.get("business_id")
    expected = keys.connection.ramp_business_id
    if expected is not None and isinstance(business_id, str) and business_id != expected:
        return _WRONG_ACCOUNT
    return envelope


async def ramp_webhook(request: Request) -> Response:
    deps: AppDeps = request.app.state.deps
    prelude = await _prelude(request, deps, RAMP)
    if isinstance(prelude, Response):
        return prelude
    lookup, body = prelude
    runtime = deps.runtime
    headers = dict(request.headers)
    decided = await _decide(
        deps, RAMP, lookup, lambda keys: _checked_ramp_envelope(keys, body, headers)
    )
    if isinstance(decided, Response):
        return decided
    keys, envelope = decided
    connection = keys.connection
    verification = envelope["type"] == RAMP_VERIFICATION_EVENT or "challenge" in envelope
    kind = Kind.RAMP_VERIFY_WEBHOOK if verification else Kind.RAMP_EVENT
    event_id: str = envelope["id"]
    now = runtime.clock()

    def job(inbox_id: int) -> NewJob:
        return NewJob(
            kind=kind.value,
            args={"connection_id": connection.id, "inbox_id": inbox_id},
            connection_id=connection.id,
            priority=Lane.LIVE,
            unique_key=f"{kind.value}:{connection.id}:{event_id}",
        )

    delivery = Delivery(
        record=inbox.NewDelivery(
            source=RAMP,
            connection_id=connection.id,
            body=body,
            dedupe_key=f"{connection.id}:{event_id}",
            received_at=now,
            headers=_kept_headers(request),
        ),
        job=job,
    )
    try:
        delivery_id = await _store(deps, delivery)
    except Exception as exc:
        return _unavailable(deps, RAMP, connection.id, exc)
    if delivery_id is None:
        return _answer(RAMP, "duplicate", 200)
    outcome = "handshake" if verification else "accepted"
    log.info(
        "webhook.received",
        source=RAMP,
        connection_id=connection.id,
        event_type=envelope["type"],
        event_id=event_id,
        outcome=outcome,
    )
    return _answer(RAMP, outcome, 200, inbox_id=delivery_id)


def webhook_routes() -> list[Route]:
    return [
        Route("/webhooks/freshbooks/{connection_id}", freshbooks_webhook, methods=["POST"]),
        Route("/webhooks/ramp/{connection_id}", ramp_webhook, methods=["POST"]),
    ]


__all__ = [
    "EVENT_KINDS",
    "BodyTooLargeError",
    "freshbooks_webhook",
    "ramp_webhook",
    "read_limited",
    "webhook_routes",
]
