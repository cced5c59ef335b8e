"""Which FreshBooks businesses an identity can reach, with the three ids each needs.

`business_memberships[].business` holds `account_id` (accounting + events paths),
`id` (the business id; not the membership's `id`) and `business_uuid` (ledger accounts).
FreshBooks has been seen to send `account_id: null` on an owner membership while the
deprecated `roles[].accountid` held the working id; we fall back to it only when the
pairing is unambiguous, and say which source each id came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ml_connector.clients.freshbooks.models import Identity

AccountSource = Literal["membership", "roles", "missing"]


@dataclass(frozen=True, kw_only=True)
class BusinessRef:
    """One business the identity belongs to. `account_id` None: no accounting access."""

    account_id: str | None
    business_id: int | None
    business_uuid: str | None
    name: str | None
    role: str | None
    account_source: AccountSource


def businesses_of(identity: Identity) -> list[BusinessRef]:
    """The identity's businesses, with `account_id` filled from `roles` when unambiguous.

    One membership lacking an account id is paired with the one role account id no other
    membership already uses; with several of either the pairing would be a guess, so they
    stay `missing`. With no memberships at all, each distinct role account id becomes a
    business known only by its account id.
    """
    claimed = {m.business.account_id for m in identity.business_memberships}
    spare = list(
        dict.fromkeys(
            r.accountid for r in identity.roles if r.accountid and r.accountid not in claimed
        )
    )
    lacking = [m for m in identity.business_memberships if not m.business.account_id]
    fallback = spare[0] if len(lacking) == 1 and len(spare) == 1 else None

    refs: list[BusinessRef] = []
    for membership in identity.business_memberships:
        business = membership.business
        source: AccountSource = "membership"
        account_id = business.account_id or None
        if account_id is None:
            account_id, source = (fallback, "roles") if fallback else (None, "missing")
        refs.append(
            BusinessRef(
                account_id=account_id,
                business_id=business.id,
                business_uuid=business.business_uuid,
                name=business.name,
                role=membership.role,
                account_source=source,
            )
        )
    if not identity.business_memberships:
        refs.extend(
            BusinessRef(
                account_id=account_id,
                business_id=None,
                business_uuid=None,
                name=None,
                role=None,
                account_source="roles",
            )
            for account_id in spare
        )
    return refs


__all__ = ["AccountSource", "BusinessRef", "businesses_of"]
