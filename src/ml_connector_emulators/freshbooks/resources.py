"""The accounting resources the emulator serves: paths, envelope keys, scopes, filters.

One table drives routing, envelopes and list filtering, so a path or key is written once.
Filters follow FreshBooks' resource pages (bills: vendorid, statuses, ids, currency_code,
issue_date and updated betweens; expenses: the documented id/date/amount filters plus
`updated_min/max`; categories: ids, name-like, parentid, is_editable; taxes: ids,
name/number-like, updated betweens).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ml_connector_emulators.freshbooks.formats import EASTERN
from ml_connector_emulators.freshbooks.query import (
    Filter,
    Kind,
    Parser,
    boolean,
    day,
    decimal,
    integer,
    stamp_in,
    text,
)

UTC_STAMP = stamp_in(None)
EASTERN_STAMP = stamp_in(EASTERN)
"""How `updated` betweens read their bounds: bills and vendors stamp in UTC, the older
resources in US/Eastern (`columns` reads records the same way)."""


@dataclass(frozen=True)
class Resource:
    kind: str  # internal name, also the plural path segment used by /_sandbox
    path: str  # under /accounting/account/{account_id}/
    single: str
    plural: str
    scope: str  # the `user:<object>` scope family
    event: str | None  # webhook noun, or None when the resource emits no events itself
    writable: bool = True
    real_delete: bool = False
    gate_errno: int | None = None  # errno of the "HTTP 200 with errors" feature gate
    filters: dict[str, Filter] = field(default_factory=dict)


def _ids(name: str, wire: str) -> dict[str, Filter]:
    return {name: Filter(Kind.EQ, wire, integer), f"{name}s": Filter(Kind.IN, wire, integer)}


def _between(name: str, wire: str, parse: Parser) -> dict[str, Filter]:
    return {
        f"{name}_min": Filter(Kind.MIN, wire, parse),
        f"{name}_max": Filter(Kind.MAX, wire, parse),
    }


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        Resource(
            kind="bills",
            path="bills/bills",
            single="bill",
            plural="bills",
            scope="bills",
            event="bill",
            gate_errno=41001,
            filters={
                "vendorid": Filter(Kind.EQ, "vendorid", integer),
                "vendorids": Filter(Kind.IN, "vendorid", integer),
                "statuses": Filter(Kind.IN, "status", text),
                "status": Filter(Kind.EQ, "status", text),
                "ids": Filter(Kind.IN, "id", integer),
                "currency_code": Filter(Kind.EQ, "currency_code", text),
                "bill_number": Filter(Kind.LIKE, "bill_number", text),
                **_between("issue_date", "issue_date", day),
                **_between("updated", "updated_at", UTC_STAMP),
            },
        ),
        Resource(
            kind="bill_vendors",
            path="bill_vendors/bill_vendors",
            single="bill_vendor",
            plural="bill_vendors",
            scope="bill_vendors",
            event="bill_vendor",
            gate_errno=31001,
            filters={
                **_ids("vendorid", "vendorid"),
                "vendor_name": Filter(Kind.LIKE, "vendor_name", text),
                **_between("updated", "updated_at", UTC_STAMP),
            },
        ),
        Resource(
            kind="bill_payments",
            path="bill_payments/bill_payments",
            single="bill_payment",
            plural="bill_payments",
            scope="bill_payments",
            event=None,
            gate_errno=41101,
            filters={
                **_ids("billid", "billid"),
                "ids": Filter(Kind.IN, "id", integer),
                **_between("paid_date", "paid_date", day),
            },
        ),
        Resource(
            kind="expenses",
            path="expenses/expenses",
            single="expense",
            plural="expenses",
            scope="expenses",
            event="expense",
            filters={
                **_ids("expenseid", "id"),
                **_ids("clientid", "clientid"),
                "clientid_not": Filter(Kind.EQ, "clientid", integer),
                **_ids("staffid", "staffid"),
                **_ids("categoryid", "categoryid"),
                **_ids("projectid", "projectid"),
                "has_receipt": Filter(Kind.EQ, "has_receipt", boolean),
                "vendor": Filter(Kind.LIKE, "vendor", text),
                **_between("amount", "amount", decimal),
                **_between("date", "date", day),
                **_between("updated", "updated", EASTERN_STAMP),
            },
        ),
        Resource(
            kind="categories",
            path="expenses/categories",
            single="category",
            plural="categories",
            scope="expenses",
            event="category",
            filters={
                "categoryids": Filter(Kind.IN, "id", integer),
                "name": Filter(Kind.LIKE, "category", text),
                "parentid": Filter(Kind.EQ, "parentid", integer),
                "is_cogs": Filter(Kind.EQ, "is_cogs", boolean),
                "is_editable": Filter(Kind.EQ, "is_editable", boolean),
            },
        ),
        Resource(
            kind="taxes",
            path="taxes/taxes",
            single="tax",
            plural="taxes",
            scope="taxes",
            event="tax",
            real_delete=True,
            filters={
                **_ids("taxid", "id"),
                "name": Filter(Kind.LIKE, "name", text),
                "number": Filter(Kind.LIKE, "number", text),
                "compound": Filter(Kind.EQ, "compound", boolean),
                **_between("updated", "updated", EASTERN_STAMP),
            },
        ),
        Resource(
            kind="staff",
            path="users/staffs",
            single="staff",
            plural="staffs",
            scope="teams",
            event=None,
            writable=False,
            filters={"email": Filter(Kind.LIKE, "email", text)},
        ),
    )
}

BY_PATH: dict[str, Resource] = {r.path: r for r in RESOURCES.values()}

__all__ = ["BY_PATH", "EASTERN_STAMP", "RESOURCES", "UTC_STAMP", "Resource"]
