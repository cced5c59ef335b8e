"""Bill-pay vendors (`/vendors`): the payees that bills reference."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator

from ml_connector.clients.ramp.models import Vendor, VendorContact, VendorCreate, VendorUpdate
from ml_connector.clients.ramp.pagination import MAX_PAGE_SIZE, page_size_param
from ml_connector.clients.ramp.paths import seg
from ml_connector.clients.ramp.requester import Requester
from ml_connector.core.errors import NeedsAttentionError


class VendorsApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self,
        *,
        name: str | None = None,
        is_active: bool | None = None,
        external_vendor_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Vendor]:
        params = {
            "name": name,
            "is_active": is_active,
            "external_vendor_id": external_vendor_id,
            "page_size": page_size_param(page_size),
        }
        return self._r.iterate("vendors", params, Vendor, what="vendor")

    async def search(self, name: str) -> builtins.list[Vendor]:
        """Vendors Ramp returns for a `name` filter.

        Whether Ramp matches exactly or by substring is undocumented, so this returns
        what Ramp returns and the caller's name normalization decides what matches.
        """
        return [vendor async for vendor in self.list(name=name)]

    async def find_by_external_id(self, external_vendor_id: str) -> Vendor | None:
        """The vendor carrying `external_vendor_id`, checked client-side.

        The filter only exists in Ramp's newer API, and an older deployment ignores
        unknown filters, so every returned vendor is compared before it is trusted.
        """
        found = [
            vendor
            async for vendor in self.list(external_vendor_id=external_vendor_id)
            if vendor.external_vendor_id == external_vendor_id
        ]
        if len(found) > 1:
            ids = ", ".join(v.id for v in found)
            raise NeedsAttentionError(
                f"{len(found)} Ramp vendors carry external_vendor_id {external_vendor_id!r} ({ids}); "
                "merge or deactivate the duplicates in Ramp",
                code="ramp_duplicate_vendor",
            )
        return found[0] if found else None

    async def get(self, vendor_id: str) -> Vendor:
        return await self._r.call("GET", f"vendors/{seg(vendor_id)}", Vendor, what="vendor")

    async def create(self, vendor: VendorCreate) -> Vendor:
        """Create a vendor (approved by default). Not retried after an unknown outcome."""
        return await self._r.call(
            "POST", "vendors", Vendor, what="vendor", json_body=vendor.wire(), idempotent=False
        )

    async def update(self, vendor_id: str, changes: VendorUpdate) -> Vendor:
        return await self._r.call(
            "PATCH",
            f"vendors/{seg(vendor_id)}",
            Vendor,
            what="vendor",
            json_body=changes.wire(),
            idempotent=True,
        )

    async def contacts(self, vendor_id: str) -> builtins.list[VendorContact]:
        """The vendor's contacts; a bill needs one of their ids as `vendor_contact_id`."""
        params = {"page_size": MAX_PAGE_SIZE}
        return [
            contact
            async for contact in self._r.iterate(
                f"vendors/{seg(vendor_id)}/contacts", params, VendorContact, what="vendor contact"
            )
        ]


__all__ = ["VendorsApi"]
