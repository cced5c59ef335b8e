"""Load the Ramp state a plan is computed against, within the shared request budget.

A plan needs Ramp's vendors, GL accounts and accounting-field options (reference data,
identical for every object of a connection), plus per object the Ramp bill a link points
at or the card transactions an expense could match. Reference data is read once per job
and cached per connection for a short time on the injected clock, because a backfill
would otherwise re-read the same pages for every bill; per-object data is never cached.

Caching vendors is safe because the cache is never the last word before a write: the
executor re-reads Ramp's vendors before creating one (`fresh_vendors`), and records the
vendors it creates here so the next job of this process sees them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

import anyio

from ml_connector.clients.ramp import RampClient
from ml_connector.core.clock import Clock
from ml_connector.core.errors import NotFoundError
from ml_connector.core.model import (
    CardTransaction,
    Expense,
    FieldOption,
    GLAccount,
    RampBill,
    RampState,
    RampVendorRef,
)
from ml_connector.sync import convert

__all__ = ["DEFAULT_TTL", "RampStateCache", "Reference", "card_candidates", "linked_bills"]

DEFAULT_TTL = timedelta(seconds=30)
"""Long enough to spare a backfill thousands of identical reads, short enough that a GL
account or option added in Ramp's UI is seen within the minute."""


@dataclass(frozen=True, slots=True)
class Reference:
    """Ramp reference data of one business, as read at `read_at`."""

    vendors: tuple[RampVendorRef, ...]
    gl_accounts: tuple[GLAccount, ...]
    field_options: tuple[FieldOption, ...]
    read_at: datetime

    def state(
        self,
        *,
        bills: Iterable[RampBill] = (),
        transactions: Iterable[CardTransaction] = (),
    ) -> RampState:
        return RampState(
            vendors=self.vendors,
            gl_accounts=self.gl_accounts,
            field_options=self.field_options,
            bills=tuple(bills),
            transactions=tuple(transactions),
        )


async def fresh_vendors(ramp: RampClient) -> tuple[RampVendorRef, ...]:
    """Every Ramp vendor, active or not (links may point at inactive ones)."""
    return tuple([convert.ramp_vendor(v) async for v in ramp.vendors.list()])


async def _gl_accounts(ramp: RampClient) -> tuple[GLAccount, ...]:
    out = []
    async for wire in ramp.accounting.gl_accounts.list():
        account = convert.gl_account(wire)
        if account is not None:
            out.append(account)
    return tuple(out)


async def _field_options(ramp: RampClient) -> tuple[FieldOption, ...]:
    out: list[FieldOption] = []
    async for field in ramp.fields.list():
        if not field.id or not field.is_active:
            continue
        async for wire in ramp.fields.options(field.ramp_id):
            option = convert.field_option(field.id, wire)
            if option is not None:
                out.append(option)
    return tuple(out)


class RampStateCache:
    """Reference data per connection, valid for `ttl` on the injected clock."""

    def __init__(self, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[int, Reference] = {}
        self._stale_vendors: set[int] = set()
        self._locks: dict[int, anyio.Lock] = {}

    async def reference(
        self,
        connection_id: int,
        ramp: RampClient,
        *,
        max_age: timedelta | None = None,
    ) -> Reference:
        """`max_age`: re-read if the cached data is older than this (tighter than the TTL)."""
        ttl = self._ttl if max_age is None else min(self._ttl, max_age)
        # One reader per connection: the jobs that find the cache expired together wait
        # for its one re-read instead of each making their own.
        async with self._locks.setdefault(connection_id, anyio.Lock()):
            now = self._clock()
            cached = self._entries.get(connection_id)
            if cached is not None and now - cached.read_at < ttl:
                if connection_id in self._stale_vendors:
                    self._stale_vendors.discard(connection_id)
                    cached = replace(cached, vendors=await fresh_vendors(ramp))
                    self._entries[connection_id] = cached
                return cached
            self._stale_vendors.discard(connection_id)
            loaded = Reference(
                vendors=await fresh_vendors(ramp),
                gl_accounts=await _gl_accounts(ramp),
                field_options=await _field_options(ramp),
                read_at=now,
            )
            self._entries[connection_id] = loaded
            return loaded

    def cached_vendors(self, connection_id: int) -> tuple[RampVendorRef, ...] | None:
        """The vendors held for the connection now, without reading (None if none are)."""
        cached = self._entries.get(connection_id)
        return None if cached is None else cached.vendors

    def remember_vendor(self, connection_id: int, vendor: RampVendorRef) -> None:
        """Add (or replace) a vendor we just created or found, without a re-read."""
        cached = self._entries.get(connection_id)
        if cached is None:
            return
        others = tuple(v for v in cached.vendors if v.id != vendor.id)
        self._entries[connection_id] = replace(cached, vendors=(*others, vendor))

    def replace_vendors(self, connection_id: int, vendors: tuple[RampVendorRef, ...]) -> None:
        cached = self._entries.get(connection_id)
        if cached is not None:
            self._entries[connection_id] = replace(cached, vendors=vendors)

    def invalidate(self, connection_id: int) -> None:
        self._entries.pop(connection_id, None)

    def invalidate_vendors(self, connection_id: int) -> None:
        """Re-read only the vendors next time: another job just created or linked one.

        GL accounts and field options did not change with it, and re-reading them too
        cost a backfill a fifth more Ramp calls than bills.
        """
        self._stale_vendors.add(connection_id)


async def linked_bills(ramp: RampClient, bill_ids: Iterable[str]) -> tuple[RampBill, ...]:
    """The Ramp bills links point at; a bill Ramp no longer has is simply absent."""
    out = []
    for bill_id in dict.fromkeys(bill_ids):
        try:
            out.append(convert.ramp_bill(await ramp.bills.get(bill_id)))
        except NotFoundError:
            continue
    return tuple(out)


async def card_candidates(
    ramp: RampClient, expense: Expense, *, window_days: int
) -> tuple[tuple[CardTransaction, ...], int]:
    """Card transactions that could be this expense, and how many Ramp rows were unusable.

    Ramp filters by `user_transaction_time` and (for USD) by amount, so only the few
    charges of exactly this amount within the window travel; matching then decides.
    """
    start = datetime.combine(expense.date - timedelta(days=window_days), time.min, tzinfo=UTC)
    end = datetime.combine(expense.date + timedelta(days=window_days + 1), time.min, tzinfo=UTC)
    usd = expense.amount.currency.upper() == "USD"
    found: list[CardTransaction] = []
    unusable = 0
    async for wire in ramp.transactions.list(
        from_date=start,
        to_date=end,
        min_amount=expense.amount.amount if usd else None,
        max_amount=expense.amount.amount if usd else None,
    ):
        tx = convert.card_transaction(wire)
        if tx is None:
            unusable += 1
        else:
            found.append(tx)
    return tuple(found), unusable
