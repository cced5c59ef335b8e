"""Bills (`/bills`): create, read, find by our `remote_id`, patch, archive."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from datetime import date, datetime

from ml_connector.clients.ramp.models import Bill, BillCreate, BillUpdate
from ml_connector.clients.ramp.pagination import MAX_PAGE_SIZE, page_size_param
from ml_connector.clients.ramp.paths import seg
from ml_connector.clients.ramp.requester import Requester


class BillsApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self,
        *,
        vendor_id: str | None = None,
        entity_id: str | None = None,
        payment_status: str | None = None,
        is_archived: bool | None = None,
        from_issued_date: date | None = None,
        to_issued_date: date | None = None,
        from_created_at: datetime | None = None,
        to_created_at: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Bill]:
        params = {
            "vendor_id": vendor_id,
            "entity_id": entity_id,
            "payment_status": payment_status,
            "is_archived": is_archived,
            "from_issued_date": from_issued_date,
            "to_issued_date": to_issued_date,
            "from_created_at": from_created_at,
            "to_created_at": to_created_at,
            "page_size": page_size_param(page_size),
        }
        return self._r.iterate("bills", params, Bill, what="bill")

    async def get(self, bill_id: str) -> Bill:
        return await self._r.call("GET", f"bills/{seg(bill_id)}", Bill, what="bill")

    async def create(self, bill: BillCreate) -> Bill:
        """Create a bill. Ramp takes no idempotency key, so a lost response is never re-sent:
        it surfaces as `TransientApiError` and the caller runs `find_by_remote_id` first."""
        return await self._r.call(
            "POST", "bills", Bill, what="bill", json_body=bill.wire(), idempotent=False
        )

    async def find_by_remote_id(
        self, remote_id: str, *, vendor_id: str | None = None, include_archived: bool = False
    ) -> builtins.list[Bill]:
        """Bills whose `remote_id` is ours, matched client-side (Ramp has no such filter).

        Narrowing by `vendor_id` keeps the scan to one vendor's bills. More than one
        result means a duplicate already exists, which the caller must surface.
        """
        states = (False, True) if include_archived else (False,)
        return [
            bill
            for archived in states
            async for bill in self.list(vendor_id=vendor_id, is_archived=archived)
            if bill.remote_id == remote_id
        ]

    async def patch(self, bill_id: str, changes: BillUpdate) -> Bill:
        """Update a bill; line arrays replace the bill's lines. Safe to repeat."""
        return await self._r.call(
            "PATCH",
            f"bills/{seg(bill_id)}",
            Bill,
            what="bill",
            json_body=changes.wire(),
            idempotent=True,
        )

    async def archive(self, bill_id: str) -> None:
        """Archive (DELETE → 204). Ramp refuses for paid bills; that error is raised as is."""
        await self._r.request("DELETE", f"bills/{seg(bill_id)}", idempotent=True)


__all__ = ["BillsApi"]
