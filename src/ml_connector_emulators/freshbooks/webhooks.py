"""Sending webhook deliveries: the verification handshake and signed event posts.

Deliveries are queued with a due time on the emulator clock. `drain()` sends every due
one (tests call it for determinism); in served mode the app's lifespan task calls it on
a short poll. The knobs reproduce what FreshBooks does not promise: delivery delay
("a few seconds to several minutes"), duplicates, reordering and loss. Failed sends are
retried a few times with a growing backoff — FreshBooks' real retry policy is
undocumented, so the count and backoff are knobs too.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx2

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks.callbacks import Callback, CallbackStore
from ml_connector_emulators.freshbooks.counters import Counters
from ml_connector_emulators.freshbooks.signing import HEADER, form_body, sign

LEGACY_USER_ID = 1  # `user_id` is a deprecated field FreshBooks still sends; always the owner


@dataclass
class WebhookKnobs:
    delay_seconds: float = 0.0
    jitter_seconds: float = 0.0
    duplicate_rate: float = 0.0
    loss_rate: float = 0.0
    reorder: bool = False
    max_attempts: int = 3
    retry_backoff_seconds: float = 60.0
    timeout_seconds: float = 10.0

    def update(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown webhook knob {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool):
                setattr(self, name, bool(value))
            elif isinstance(current, int):
                setattr(self, name, max(1, int(value)))
            else:
                number = float(value)
                if number < 0 or (name.endswith("_rate") and number > 1):
                    raise ValueError(f"{name} out of range")
                setattr(self, name, number)

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Delivery:
    seq: int
    callbackid: int
    uri: str
    fields: list[tuple[str, str]]
    verifier: str = field(repr=False)
    handshake: bool
    due_at: datetime
    attempt: int = 0


@dataclass(frozen=True)
class DeliveryAttempt:
    """One send (or planned loss) as the log and `/_sandbox/webhooks` report it."""

    seq: int
    callbackid: int
    uri: str
    name: str
    object_id: str
    attempt: int
    outcome: str  # delivered | rejected | unreachable | lost | cancelled
    status: int | None
    at: datetime
    signature: str


class Webhooks:
    def __init__(
        self,
        clock: EmulatorClock,
        rng: random.Random,
        counters: Counters,
        callbacks: CallbackStore,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.knobs = WebhookKnobs()
        self.pending: list[Delivery] = []
        self.log: list[DeliveryAttempt] = []
        self._clock = clock
        self._rng = rng
        self._counters = counters
        self._callbacks = callbacks
        self._transport = transport
        self._seq = 0

    # --- enqueueing --------------------------------------------------------------------

    def _delay(self) -> timedelta:
        jitter = self._rng.uniform(0, self.knobs.jitter_seconds) if self.knobs.jitter_seconds else 0
        return timedelta(seconds=self.knobs.delay_seconds + jitter)

    def _queue(self, callback: Callback, fields: list[tuple[str, str]], handshake: bool) -> None:
        self._seq += 1
        delivery = Delivery(
            seq=self._seq,
            callbackid=callback.callbackid,
            uri=callback.uri,
            fields=fields,
            verifier=callback.verifier,
            handshake=handshake,
            due_at=self._clock.now() + (timedelta(0) if handshake else self._delay()),
        )
        if not handshake and self.knobs.loss_rate and self._rng.random() < self.knobs.loss_rate:
            self._record(delivery, "lost", None)
            return
        self.pending.append(delivery)
        if (
            not handshake
            and self.knobs.duplicate_rate
            and self._rng.random() < self.knobs.duplicate_rate
        ):
            self._seq += 1
            self._counters.webhook_deliveries["duplicated"] += 1
            twin = Delivery(
                **{**delivery.__dict__, "seq": self._seq, "due_at": delivery.due_at + self._delay()}
            )
            self.pending.append(twin)

    def handshake(self, callback: Callback) -> None:
        """FreshBooks POSTs the verifier to a newly registered (or resent) callback."""
        fields = [
            ("name", "callback.verify"),
            ("object_id", str(callback.callbackid)),
            ("verifier", callback.verifier),
            ("account_id", callback.account_id),
            ("business_id", str(callback.business_id)),
            ("identity_id", str(callback.identity_id)),
            ("user_id", str(LEGACY_USER_ID)),
        ]
        self._queue(callback, fields, handshake=True)

    def publish(self, account_id: str, name: str, object_id: int) -> None:
        for callback in self._callbacks.listening(account_id, name):
            fields = [
                ("name", name),
                ("object_id", str(object_id)),
                ("account_id", account_id),
                ("business_id", str(callback.business_id)),
                ("identity_id", str(callback.identity_id)),
                ("user_id", str(LEGACY_USER_ID)),
            ]
            self._queue(callback, fields, handshake=False)

    # --- sending ---------------------------------------------------------------------------

    def _record(self, delivery: Delivery, outcome: str, status: int | None) -> DeliveryAttempt:
        fields = dict(delivery.fields)
        attempt = DeliveryAttempt(
            seq=delivery.seq,
            callbackid=delivery.callbackid,
            uri=delivery.uri,
            name=fields.get("name", ""),
            object_id=fields.get("object_id", ""),
            attempt=delivery.attempt,
            outcome=outcome,
            status=status,
            at=self._clock.now(),
            signature=sign(delivery.fields, delivery.verifier),
        )
        self.log.append(attempt)
        self._counters.webhook_deliveries[outcome] += 1
        return attempt

    def _take_due(self) -> list[Delivery]:
        now = self._clock.now()
        due = [d for d in self.pending if d.due_at <= now]
        self.pending = [d for d in self.pending if d.due_at > now]
        if self.knobs.reorder:
            self._rng.shuffle(due)
        else:
            due.sort(key=lambda d: (d.due_at, d.seq))
        return due

    async def _post(self, transport: httpx2.AsyncBaseTransport, delivery: Delivery) -> int:
        request = httpx2.Request(
            "POST",
            delivery.uri,
            content=form_body(delivery.fields),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                HEADER: sign(delivery.fields, delivery.verifier),
                "User-Agent": "FreshBooks-Webhooks (emulator)",
            },
        )
        with anyio.fail_after(self.knobs.timeout_seconds):
            response = await transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response.status_code

    async def _send(
        self, transport: httpx2.AsyncBaseTransport, delivery: Delivery
    ) -> DeliveryAttempt:
        callback = self._callbacks.by_id.get(delivery.callbackid)
        if callback is None or (not delivery.handshake and not callback.verified):
            return self._record(delivery, "cancelled", None)
        delivery.attempt += 1
        status: int | None = None
        try:
            status = await self._post(transport, delivery)
        except (httpx2.TransportError, TimeoutError, OSError):
            outcome = "unreachable"
        else:
            outcome = "delivered" if 200 <= status < 300 else "rejected"
        attempt = self._record(delivery, outcome, status)
        if outcome != "delivered" and delivery.attempt < self.knobs.max_attempts:
            backoff = self.knobs.retry_backoff_seconds * delivery.attempt
            delivery.due_at = self._clock.now() + timedelta(seconds=backoff)
            self.pending.append(delivery)
        return attempt

    async def drain(self) -> list[DeliveryAttempt]:
        """Send every delivery due now (including any that become due while sending)."""
        sent: list[DeliveryAttempt] = []
        transport = self._transport or httpx2.AsyncHTTPTransport()
        try:
            for _ in range(100):
                due = self._take_due()
                if not due:
                    break
                for delivery in due:
                    sent.append(await self._send(transport, delivery))
        finally:
            if self._transport is None:
                await transport.aclose()
        return sent

    async def run(self, poll_seconds: float = 0.2) -> None:
        """Served mode: keep delivering whatever falls due, until cancelled."""
        while True:
            if any(d.due_at <= self._clock.now() for d in self.pending):
                try:
                    await self.drain()
                except Exception:  # one bad delivery must not stop the sender
                    self._counters.webhook_deliveries["sender_errors"] += 1
            await anyio.sleep(poll_seconds)


__all__ = ["Delivery", "DeliveryAttempt", "WebhookKnobs", "Webhooks"]
