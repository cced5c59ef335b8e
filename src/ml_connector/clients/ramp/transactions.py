"""Card transactions: read-only in Ramp, except their line coding and their memo."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Literal

from ml_connector.clients.ramp.models import (
    Memo,
    MemoCreate,
    Transaction,
    TransactionCoding,
    TransactionLineItemCoding,
)
from ml_connector.clients.ramp.pagination import MAX_PAGE_SIZE, page_size_param
from ml_connector.clients.ramp.paths import seg
from ml_connector.clients.ramp.requester import Requester

Order = Literal[
    "order_by_date_asc", "order_by_date_desc", "order_by_amount_asc", "order_by_amount_desc"
]


class TransactionsApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self,
        *,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        updated_after: datetime | None = None,
        state: str | None = None,
        min_amount: Decimal | None = None,
        max_amount: Decimal | None = None,
        merchant_id: str | None = None,
        entity_id: str | None = None,
        department_id: str | None = None,
        user_id: str | None = None,
        card_id: str | None = None,
        sync_ready: bool | None = None,
        order: Order | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Transaction]:
        """Transactions matching the filters (dates bound `user_transaction_time`).

        `state="ALL"` includes declined transactions, which Ramp leaves out by default.
        """
        params: dict[str, object] = {
            "from_date": from_date,
            "to_date": to_date,
            "updated_after": updated_after,
            "state": state,
            "min_amount": min_amount,
            "max_amount": max_amount,
            "merchant_id": merchant_id,
            "entity_id": entity_id,
            "department_id": department_id,
            "user_id": user_id,
            "card_id": card_id,
            "sync_ready": sync_ready,
            "page_size": page_size_param(page_size),
        }
        if order is not None:
            params[order] = True
        return self._r.iterate("transactions", params, Transaction, what="transaction")

    async def get(self, transaction_id: str) -> Transaction:
        return await self._r.call(
            "GET", f"transactions/{seg(transaction_id)}", Transaction, what="transaction"
        )

    async def patch_coding(
        self, transaction_id: str, line_items: builtins.list[TransactionLineItemCoding]
    ) -> Transaction:
        """Replace the transaction's coded lines (GL account, cost centre per line).

        Ramp refuses (403) once the transaction is synced or marked ready to sync.
        Setting the same coding again is harmless, so the call is retried like a read.
        """
        body = TransactionCoding(line_items=line_items).wire()
        return await self._r.call(
            "PATCH",
            f"transactions/{seg(transaction_id)}",
            Transaction,
            what="transaction",
            json_body=body,
            idempotent=True,
        )

    async def set_memo(self, transaction_id: str, memo: str) -> Memo:
        """Write the transaction's memo (`POST /memos/{id}`; ≤255 characters)."""
        return await self._r.call(
            "POST",
            f"memos/{seg(transaction_id)}",
            Memo,
            what="memo",
            json_body=MemoCreate(memo=memo).wire(),
            idempotent=True,
        )


__all__ = ["TransactionsApi"]
