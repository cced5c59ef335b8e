"""Read-only look-ups in FreshBooks and Ramp for the editor pages.

The editors need the real categories, GL accounts, vendors and entities to suggest and
validate against; they are read through the connection's clients from the `Runtime` (so
the shared rate budget and token single-flight apply) and never written. A failure is
returned as text for the page, not raised: an editor stays usable when a vendor is down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ml_connector.core.errors import ConnectorError
from ml_connector.core.model import Category, GLAccount
from ml_connector.store.connections import Connection
from ml_connector.sync.runtime import Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    value: T | None
    error: str | None = None


async def _attempt(what: str, call: Callable[[], Awaitable[T]]) -> Fetched[T]:
    try:
        return Fetched(await call())
    except ConnectorError as exc:
        # Connector errors carry specific, secret-free messages meant for people.
        return Fetched(None, f"Could not read {what}: {exc}")


async def freshbooks_categories(
    runtime: Runtime, connection: Connection
) -> Fetched[list[Category]]:
    account_id = connection.freshbooks_account_id
    if account_id is None:
        return Fetched(None, "FreshBooks is not connected yet.")

    async def call() -> list[Category]:
        async with runtime.freshbooks_client(connection) as fb:
            return [
                Category(
                    id=str(c.categoryid),
                    name=c.category,
                    parent_id=str(c.parentid) if c.parentid else None,
                    active=c.vis_state == 0,
                )
                async for c in fb.categories(account_id).list()
            ]

    return await _attempt("FreshBooks expense categories", call)


async def freshbooks_vendors(
    runtime: Runtime, connection: Connection
) -> Fetched[list[tuple[str, str]]]:
    """(vendor id, vendor name) of the FreshBooks bill vendors."""
    account_id = connection.freshbooks_account_id
    if account_id is None:
        return Fetched(None, "FreshBooks is not connected yet.")

    async def call() -> list[tuple[str, str]]:
        async with runtime.freshbooks_client(connection) as fb:
            return [
                (str(v.vendorid), v.vendor_name or f"#{v.vendorid}")
                async for v in fb.bill_vendors(account_id).list()
            ]

    return await _attempt("FreshBooks bill vendors", call)


NO_ACCOUNTING_CONNECTION = (
    "Ramp has no accounting connection yet, so it has no GL accounts: run setup on the "
    "connection page (it creates the connection and uploads or adopts GL accounts)."
)


async def ramp_gl_accounts(runtime: Runtime, connection: Connection) -> Fetched[list[GLAccount]]:
    """Ramp's GL accounts; none (with a note) while Ramp has no accounting connection."""
    linked = True

    async def call() -> list[GLAccount]:
        nonlocal linked
        async with await runtime.ramp_client(connection) as ramp:
            if not any(c.is_active for c in await ramp.accounting.connections()):
                linked = False
                return []
            return [
                GLAccount(
                    id=a.id or a.ramp_id,
                    name=a.name,
                    code=a.code,
                    active=a.is_active,
                    ramp_id=a.ramp_id,
                    classification=a.classification,
                )
                async for a in ramp.accounting.gl_accounts.list()
            ]

    fetched = await _attempt("Ramp GL accounts", call)
    return fetched if linked else Fetched([], NO_ACCOUNTING_CONNECTION)


async def ramp_vendors(runtime: Runtime, connection: Connection) -> Fetched[dict[str, str]]:
    """Ramp vendor id → name."""

    async def call() -> dict[str, str]:
        async with await runtime.ramp_client(connection) as ramp:
            return {v.id: v.name async for v in ramp.vendors.list()}

    return await _attempt("Ramp vendors", call)


async def ramp_entities(runtime: Runtime, connection: Connection) -> Fetched[list[tuple[str, str]]]:
    async def call() -> list[tuple[str, str]]:
        async with await runtime.ramp_client(connection) as ramp:
            return [(e.id, e.entity_name) async for e in ramp.entities.list()]

    return await _attempt("Ramp entities", call)


__all__ = [
    "NO_ACCOUNTING_CONNECTION",
    "Fetched",
    "freshbooks_categories",
    "freshbooks_vendors",
    "ramp_entities",
    "ramp_gl_accounts",
    "ramp_vendors",
]
