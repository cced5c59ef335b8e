"""The OAuth scopes the connector needs from a Ramp API client, and what to do when one is missing.

Ramp's docs say the token endpoint rejects a scope the app may not use (`invalid_scope`);
live sandbox reports say it mints the token anyway and the resource answers 403
`DEVELOPER_7100`. `RampClient.check_scopes` copes with both, and this module turns its
findings into text an administrator can act on in Ramp's developer settings.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUIRED_SCOPES: tuple[str, ...] = (
    "accounting:read",
    "accounting:write",
    "bills:read",
    "bills:write",
    "departments:read",
    "entities:read",
    "memos:write",
    "transactions:read",
    "transactions:write",
    "users:read",
    "vendors:read",
    "vendors:write",
)
"""Everything the sync uses: bills and vendors (incl. create), GL upload and coding,
entities for `entity_id`, users for `vendor_owner_id`, departments for cost centres,
transaction coding and memos for matched card expenses."""

_PURPOSE: dict[str, str] = {
    "accounting:read": "read the accounting connection, GL accounts and coding fields",
    "accounting:write": "create the accounting connection and upload GL accounts and field options",
    "bills:read": "find bills already in Ramp so none is created twice",
    "bills:write": "create, update and archive bills",
    "departments:read": "code spend to departments (cost centres)",
    "entities:read": "choose the Ramp entity each bill belongs to",
    "memos:write": "write a memo linking each card transaction back to FreshBooks",
    "transactions:read": "match FreshBooks expenses to Ramp card transactions",
    "transactions:write": "code matched card transactions to GL accounts and cost centres",
    "users:read": "choose the owner of vendors the connector creates",
    "vendors:read": "find existing vendors and their contacts",
    "vendors:write": "create vendors on first reference",
}


@dataclass(frozen=True)
class MissingScope:
    """One scope the Ramp API client lacks, with the fix in words."""

    scope: str
    remediation: str


def remediation_for(scope: str) -> str:
    purpose = _PURPOSE.get(scope, "use this part of the Ramp API")
    return (
        f"Ramp scope '{scope}' is missing: ml-connector needs it to {purpose}. "
        f"In Ramp, open Settings → Developer → your API app, add '{scope}' to the app's "
        "allowed scopes (client credentials grant enabled), save, then reconnect."
    )


def missing(scopes: list[str] | tuple[str, ...]) -> list[MissingScope]:
    """Remediation for each of `scopes`, in a stable order, without duplicates."""
    return [MissingScope(s, remediation_for(s)) for s in sorted(set(scopes))]


__all__ = ["REQUIRED_SCOPES", "MissingScope", "missing", "remediation_for"]
