"""Webhook subscriptions and the signed, retrying sender.

Ramp sends thin JSON events (`id`, `type`, `created_at`, `business_id`, `object.id`) with
`X-Ramp-Webhook-ID` and a signature header; 2xx is success, 429 / 5xx / timeouts /
connection errors are retried with full-jitter exponential backoff (first retry within
2 s, capped at 60 s) up to 10 attempts in all, any other status fails at once (§9.6).

New subscriptions are `pending_verification`: Ramp POSTs a `webhooks.verification` event
carrying a `challenge` (the exact shape is undocumented; this one is the standard envelope
plus `challenge`, without `X-Ramp-Webhook-ID`) and delivers nothing else until the
receiver echoes the challenge to `POST /webhooks/{id}/verify`.

Delivery is driven by `drain()`, which makes one attempt at each delivery due on the
emulator clock; served mode calls it from a background task, tests call it directly and
move the clock to reach retries. Knobs reproduce what receivers must survive: duplicate
deliveries, reordering and lost events, all drawn from the world's seeded RNG.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp.conventions import dumps, iso_datetime
from ml_connector_emulators.ramp.quirks import RampQuirks
from ml_connector_emulators.ramp.signing import signature_headers

MAX_ATTEMPTS = 10
DELIVERY_TIMEOUT_SECONDS = 10.0
FIRST_RETRY_CAP_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 60.0
VERIFICATION_EVENT = "webhooks.verification"

# The read scope a subscriber needs for each event family (§9.3: "its read scope").
EVENT_SCOPES: dict[str, str] = {
    "bills": "bills:read",
    "payments": "bills:read",
    "transactions": "transactions:read",
    "reimbursements": "reimbursements:read",
    "purchase_orders": "purchase_orders:read",
    "vendors": "vendors:read",
    "users": "users:read",
    "entities": "entities:read",
    "item_receipts": "item_receipts:read",
}

EVENT_TYPES: frozenset[str] = frozenset(
    [
        "applications.status_updated",
        "bills.approved",
        "bills.archived",
        "bills.created",
        "bills.paid",
        "bills.ready_to_sync",
        "bills.rejected",
        "bills.updated",
        "entities.created",
        "item_receipts.created",
        "payments.updated",
        "purchase_orders.archived",
        "purchase_orders.created",
        "purchase_orders.updated",
        "reimbursements.batch_payment_reimbursed",
        "reimbursements.ready_for_review",
        "reimbursements.ready_to_sync",
        "reimbursements.sync_requested",
        "tests.test_event",
        "transactions.all_requirements_met_and_approved_changed",
        "transactions.authorized",
        "transactions.body_coding_updated",
        "transactions.cleared",
        "transactions.declined",
        "transactions.ready_for_review",
        "transactions.ready_to_sync",
        "transactions.receipt_added",
        "transactions.sync_requested",
        "transactions.synced",
        "users.invite_accepted",
        "vendors.activated",
        "vendors.approved",
        "vendors.updated",
        "webhooks.verification",
    ]
)


@dataclass
class Subscription:
    id: str
    business_id: str
    endpoint_url: str
    event_types: list[str]
    additional_headers: dict[str, str]
    secret: str
    challenge: str
    created_at: datetime
    updated_at: datetime
    status: str = "pending_verification"


@dataclass
class Attempt:
    at: datetime
    status: int | None
    error: str | None


@dataclass
class Delivery:
    seq: int
    subscription_id: str
    event_id: str
    event_type: str
    body: bytes
    headers: dict[str, str]
    next_attempt_at: datetime
    state: str = "pending"  # pending | delivered | failed | lost | cancelled
    attempts: list[Attempt] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "subscription_id": self.subscription_id,
            "event_id": self.event_id,
            "type": self.event_type,
            "state": self.state,
            "attempts": [
                {"at": iso_datetime(a.at), "status": a.status, "error": a.error}
                for a in self.attempts
            ],
            "next_attempt_at": iso_datetime(self.next_attempt_at),
            "body": self.body.decode(),
        }


@dataclass
class DeliveryKnobs:
    duplicate_rate: float = 0.0
    reorder: bool = False
    loss_rate: float = 0.0


class WebhookDispatcher:
    def __init__(
        self,
        clock: EmulatorClock,
        rng: random.Random,
        new_id: Callable[[], str],
        quirks: Callable[[], RampQuirks],
        transport: httpx2.AsyncBaseTransport | None,
    ) -> None:
        self._clock = clock
        self._rng = rng
        self._new_id = new_id
        self._quirks = quirks
        self._transport = transport
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.knobs = DeliveryKnobs()
        self._seq = 0

    # --- subscriptions ---------------------------------------------------------------

    def subscribe(
        self,
        *,
        business_id: str,
        endpoint_url: str,
        event_types: list[str],
        additional_headers: dict[str, str],
        secret: str,
        challenge: str,
    ) -> Subscription:
        now = self._clock.now()
        subscription = Subscription(
            id=self._new_id(),
            business_id=business_id,
            endpoint_url=endpoint_url,
            event_types=event_types,
            additional_headers=additional_headers,
            secret=secret,
            challenge=challenge,
            created_at=now,
            updated_at=now,
        )
        self.subscriptions[subscription.id] = subscription
        payload = self._envelope(VERIFICATION_EVENT, business_id, subscription.id)
        payload["challenge"] = challenge
        self._enqueue(subscription, payload, with_event_header=False)
        return subscription

    def verify(self, subscription: Subscription, challenge: str) -> bool:
        if challenge != subscription.challenge:
            return False
        subscription.status = "active"
        subscription.updated_at = self._clock.now()
        return True

    def unsubscribe(self, subscription: Subscription) -> None:
        del self.subscriptions[subscription.id]
        for delivery in self.deliveries:
            if delivery.subscription_id == subscription.id and delivery.state == "pending":
                delivery.state = "cancelled"

    def of_business(self, business_id: str) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.business_id == business_id]

    # --- events ------------------------------------------------------------------------

    def emit(
        self,
        business_id: str,
        event_type: str,
        object_id: str,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue one event for every active subscription of the business that wants it."""
        payload = self._envelope(event_type, business_id, object_id, metadata)
        for subscription in self.of_business(business_id):
            if subscription.status != "active" or event_type not in subscription.event_types:
                continue
            delivery = self._enqueue(subscription, payload, with_event_header=True)
            if self._rng.random() < self.knobs.loss_rate:
                delivery.state = "lost"
                continue
            if self._rng.random() < self.knobs.duplicate_rate:
                self._enqueue(subscription, payload, with_event_header=True)
        return payload

    def _envelope(
        self,
        event_type: str,
        business_id: str,
        object_id: str,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": object_id}
        if metadata:
            obj.update(metadata)
        return {
            "id": self._new_id(),
            "type": event_type,
            "created_at": self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "business_id": business_id,
            "object": obj,
        }

    def _enqueue(
        self, subscription: Subscription, payload: dict[str, Any], *, with_event_header: bool
    ) -> Delivery:
        body = dumps(payload)
        headers = {"Content-Type": "application/json", **subscription.additional_headers}
        if with_event_header:
            headers["X-Ramp-Webhook-ID"] = str(payload["id"])
        headers.update(signature_headers(subscription.secret, body, self._quirks()))
        self._seq += 1
        delivery = Delivery(
            seq=self._seq,
            subscription_id=subscription.id,
            event_id=str(payload["id"]),
            event_type=str(payload["type"]),
            body=body,
            headers=headers,
            next_attempt_at=self._clock.now(),
        )
        self.deliveries.append(delivery)
        return delivery

    # --- sending -----------------------------------------------------------------------

    def due(self) -> list[Delivery]:
        now = self._clock.now()
        return [d for d in self.deliveries if d.state == "pending" and d.next_attempt_at <= now]

    async def drain(self) -> list[Delivery]:
        """Make one attempt at every delivery due now; returns the deliveries attempted."""
        batch = self.due()
        if not batch:
            return []
        if self.knobs.reorder:
            self._rng.shuffle(batch)
        async with httpx2.AsyncClient(
            transport=self._transport, timeout=DELIVERY_TIMEOUT_SECONDS
        ) as client:
            for delivery in batch:
                subscription = self.subscriptions.get(delivery.subscription_id)
                if subscription is None:
                    delivery.state = "cancelled"
                    continue
                await self._attempt(client, subscription, delivery)
        return batch

    async def _attempt(
        self, client: httpx2.AsyncClient, subscription: Subscription, delivery: Delivery
    ) -> None:
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                subscription.endpoint_url, content=delivery.body, headers=delivery.headers
            )
            status = response.status_code
        except httpx2.TimeoutException:
            error = "timeout"
        except httpx2.TransportError as exc:
            error = f"connection error: {type(exc).__name__}"
        delivery.attempts.append(Attempt(self._clock.now(), status, error))
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            return
        retriable = status is None or status == 429 or status >= 500
        if not retriable or len(delivery.attempts) >= MAX_ATTEMPTS:
            delivery.state = "failed"
            return
        cap = min(MAX_BACKOFF_SECONDS, FIRST_RETRY_CAP_SECONDS * 2 ** (len(delivery.attempts) - 1))
        delay = self._rng.uniform(0, cap)
        delivery.next_attempt_at = self._clock.now() + timedelta(seconds=delay)

    def counts(self) -> dict[str, int]:
        counts = {"pending": 0, "delivered": 0, "failed": 0, "lost": 0, "cancelled": 0}
        for delivery in self.deliveries:
            counts[delivery.state] += 1
        counts["attempts"] = sum(len(d.attempts) for d in self.deliveries)
        return counts
