"""Ledger accounts (the chart of accounts) under `/accounting/businesses/{uuid}/...`.

A different API family from the rest of accounting: flat `{"data": ...}` envelopes,
ISO-8601 UTC timestamps, uuids for ids, and errors as `{"errors": {message, status,
details[]}}`. Every business starts with a small system chart; expense accounts mirror
the top-level expense category headings.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ml_connector_emulators.freshbooks.categories import SYSTEM_CHART
from ml_connector_emulators.freshbooks.formats import iso_z

ACCOUNT_TYPES = ("asset", "liability", "equity", "income", "expense")

_SYSTEM_ACCOUNTS: tuple[tuple[str, str, str, str, str], ...] = (
    # number, name, type, sub_type, system_account_name
    ("1000", "Cash", "asset", "cash_and_bank", "cash"),
    ("1010", "Business Checking", "asset", "cash_and_bank", "checking"),
    ("1200", "Accounts Receivable", "asset", "accounts_receivable", "accounts_receivable"),
    ("2000", "Accounts Payable", "liability", "accounts_payable", "accounts_payable"),
    ("2100", "Credit Card Payable", "liability", "credit_card", "credit_card_payable"),
    ("2200", "Sales Taxes Payable", "liability", "sales_tax", "sales_taxes_payable"),
    ("3000", "Owner's Equity", "equity", "owners_equity", "owners_equity"),
    ("3100", "Retained Earnings", "equity", "retained_earnings", "retained_earnings"),
    ("4000", "Sales", "income", "sales", "sales"),
    ("4100", "Other Income", "income", "other_income", "other_income"),
)


@dataclass
class LedgerAccount:
    uuid: str
    name: str
    number: str | None
    description: str | None
    type: str
    sub_type: str | None
    system_account_name: str | None
    parent_uuid: str | None
    auto_created: bool
    updated: datetime
    state: str = "active"
    children: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self._rng = rng
        self.accounts: dict[str, LedgerAccount] = {}
        for number, name, kind, sub_type, system_name in _SYSTEM_ACCOUNTS:
            self.add(name, kind, now, number=number, sub_type=sub_type, system_name=system_name)
        for index, (heading, _) in enumerate(SYSTEM_CHART):
            self.add(
                heading,
                "expense",
                now,
                number=str(5000 + 10 * index),
                sub_type="operating_expense",
                system_name=None,
            )

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def add(
        self,
        name: str,
        kind: str,
        now: datetime,
        *,
        number: str | None = None,
        description: str | None = None,
        sub_type: str | None = None,
        system_name: str | None = None,
        parent_uuid: str | None = None,
        auto_created: bool = True,
    ) -> LedgerAccount:
        account = LedgerAccount(
            uuid=self._uuid(),
            name=name,
            number=number,
            description=description,
            type=kind,
            sub_type=sub_type,
            system_account_name=system_name,
            parent_uuid=parent_uuid,
            auto_created=auto_created,
            updated=now,
        )
        self.accounts[account.uuid] = account
        if parent_uuid is not None:
            self.accounts[parent_uuid].children.append(account.uuid)
        return account

    def wire(self, account: LedgerAccount) -> dict[str, Any]:
        parent = self.accounts.get(account.parent_uuid or "")
        return {
            "uuid": account.uuid,
            "name": account.name,
            "number": account.number,
            "description": account.description,
            "type": account.type,
            "sub_type": account.sub_type,
            "system_account_name": account.system_account_name,
            "parent_account": {"uuid": parent.uuid, "name": parent.name} if parent else None,
            "sub_accounts": [
                {"uuid": self.accounts[c].uuid, "name": self.accounts[c].name}
                for c in account.children
            ],
            "auto_created": account.auto_created,
            "state": account.state,
            "updated_at": iso_z(account.updated),
        }


__all__ = ["ACCOUNT_TYPES", "Ledger", "LedgerAccount"]
