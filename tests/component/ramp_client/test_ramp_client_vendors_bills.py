"""§12 items 3, 4, 6 and 7: vendors and bills, pagination, validation, lost responses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from ramp_sandbox import Sandbox

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ramp.models import (
    AccountingSelection,
    BillCreate,
    BillLineItemCreate,
    BillUpdate,
    GLAccountUpload,
    ManualPaymentDetails,
    Vendor,
    VendorContactCreate,
    VendorCreate,
)
from ml_connector.core.errors import ApiValidationError, FatalError, TransientApiError

pytestmark = pytest.mark.anyio


@dataclass
class Payee:
    vendor: Vendor
    contact_id: str
    entity_id: str


async def _owner_id(client: RampClient) -> str:
    return next(iter([u async for u in client.users.list()])).id


async def _vendor(client: RampClient, name: str, external_id: str | None = None) -> Payee:
    vendor = await client.vendors.create(
        VendorCreate(
            name=name,
            country="US",
            state="NY",
            vendor_owner_id=await _owner_id(client),
            business_vendor_contacts=VendorContactCreate(
                email="ap@vendor.example", first_name="Pat"
            ),
            external_vendor_id=external_id,
        )
    )
    [contact] = await client.vendors.contacts(vendor.id)
    entity = next(iter([e async for e in client.entities.list(is_primary=True)]))
    return Payee(vendor, contact.id, entity.id)


def _bill(payee: Payee, remote_id: str, *amounts: str, **extra: object) -> BillCreate:
    fields: dict[str, object] = {
        "vendor_id": payee.vendor.id,
        "vendor_contact_id": payee.contact_id,
        "entity_id": payee.entity_id,
        "invoice_number": f"FB-{remote_id[-6:]}",
        "invoice_currency": "USD",
        "issued_at": date(2026, 11, 2),
        "due_at": date(2026, 12, 2),
        "payment_method": "ACH",
        "remote_id": remote_id,
        "line_items": [
            BillLineItemCreate(amount=Decimal(a), memo=f"line {i}") for i, a in enumerate(amounts)
        ],
    }
    fields.update(extra)
    return BillCreate(**fields)  # type: ignore[arg-type]


async def test_vendor_create_contacts_and_lookups(client: RampClient, sandbox: Sandbox) -> None:
    payee = await _vendor(client, "Brightline Print Co.", external_id="freshbooks:vendor:17")
    assert payee.vendor.is_active
    assert payee.vendor.contacts == [payee.contact_id]
    found = await client.vendors.find_by_external_id("freshbooks:vendor:17")
    assert found is not None
    assert found.id == payee.vendor.id
    assert await client.vendors.find_by_external_id("freshbooks:vendor:18") is None
    assert [v.id for v in await client.vendors.search("Brightline Print Co.")] == [payee.vendor.id]
    assert (await client.vendors.get(payee.vendor.id)).name == "Brightline Print Co."
    assert (await sandbox.counters())["vendors_created"] == 1


async def test_vendor_listing_pages_through_page_next(client: RampClient) -> None:
    created = {(await _vendor(client, f"Supplier {n:02d}")).vendor.id for n in range(7)}
    listed = [v.id async for v in client.vendors.list(page_size=2)]
    assert len(listed) == len(set(listed)) == 7
    assert set(listed) == created


async def test_bill_lifecycle(client: RampClient, sandbox: Sandbox) -> None:
    payee = await _vendor(client, "Harbor Legal LLP")
    bill = await client.bills.create(_bill(payee, "freshbooks:bill:432", "19.98", "949.95"))
    assert bill.amount.amount == 96993  # decimal lines → integer minor units, summed
    assert bill.amount.to_decimal() == Decimal("969.93")
    assert [line.amount.amount for line in bill.line_items] == [1998, 94995]
    assert bill.approval_status == "APPROVED"
    assert bill.status == "OPEN"

    assert (await client.bills.get(bill.id)).remote_id == "freshbooks:bill:432"
    assert [b.id async for b in client.bills.list(vendor_id=payee.vendor.id)] == [bill.id]
    [found] = await client.bills.find_by_remote_id("freshbooks:bill:432", vendor_id=payee.vendor.id)
    assert found.id == bill.id

    patched = await client.bills.patch(
        bill.id,
        BillUpdate(
            memo="Updated in FreshBooks", line_items=[BillLineItemCreate(amount=Decimal("1000.00"))]
        ),
    )
    assert patched.memo == "Updated in FreshBooks"
    assert patched.amount.amount == 100000

    await client.bills.archive(bill.id)
    assert (
        await client.bills.find_by_remote_id("freshbooks:bill:432", vendor_id=payee.vendor.id) == []
    )
    [archived] = await client.bills.find_by_remote_id(
        "freshbooks:bill:432", vendor_id=payee.vendor.id, include_archived=True
    )
    assert archived.is_archived


async def test_paid_manually_bill_is_paid_and_cannot_be_archived(client: RampClient) -> None:
    payee = await _vendor(client, "Corner Cafe")
    bill = await client.bills.create(
        _bill(
            payee,
            "freshbooks:expense:9",
            "42.50",
            payment_method="PAID_MANUALLY",
            payment_details=ManualPaymentDetails(
                manual_payment_method="NON_RAMP_CREDIT_CARD", payment_date=date(2026, 11, 3)
            ),
        )
    )
    assert bill.is_paid
    assert bill.paid_at is not None
    with pytest.raises(FatalError) as caught:
        await client.bills.archive(bill.id)
    assert caught.value.status is not None
    assert 400 <= caught.value.status < 500


async def test_vendor_contact_of_another_vendor_is_refused(client: RampClient) -> None:
    first = await _vendor(client, "Vendor A")
    second = await _vendor(client, "Vendor B")
    wrong = _bill(first, "freshbooks:bill:1", "10.00")
    wrong = wrong.model_copy(update={"vendor_contact_id": second.contact_id})
    with pytest.raises(ApiValidationError) as caught:
        await client.bills.create(wrong)
    assert caught.value.code is not None


async def test_bill_lines_coded_to_uploaded_gl_accounts(client: RampClient) -> None:
    await client.accounting.ensure_connection()
    await client.accounting.gl_accounts.upload(
        [GLAccountUpload(id="6410", name="Office Supplies", classification="EXPENSE", code="6410")]
    )
    payee = await _vendor(client, "Paper Source")
    coded = BillLineItemCreate(
        amount=Decimal("19.98"),
        accounting_field_selections=[
            AccountingSelection(field_external_id="Category", field_option_external_id="6410")
        ],
    )
    bill = await client.bills.create(
        _bill(payee, "freshbooks:bill:77", "1.00").model_copy(update={"line_items": [coded]})
    )
    [selection] = bill.line_items[0].accounting_field_selections
    assert selection.external_id == "6410"
    assert selection.category_info is not None
    assert selection.category_info.type == "GL_ACCOUNT"

    unknown = BillLineItemCreate(
        amount=Decimal("1.00"),
        accounting_field_selections=[
            AccountingSelection(field_external_id="Category", field_option_external_id="9999")
        ],
    )
    with pytest.raises(ApiValidationError):
        await client.bills.create(
            _bill(payee, "freshbooks:bill:78", "1.00").model_copy(update={"line_items": [unknown]})
        )


async def test_lost_bill_response_is_outcome_unknown_and_never_duplicated(
    client: RampClient, sandbox: Sandbox
) -> None:
    payee = await _vendor(client, "Northwind Traders")
    await sandbox.post(
        "/_sandbox/faults", {"drop_after_write": {"route": "POST /developer/v1/bills", "count": 1}}
    )
    with pytest.raises(TransientApiError, match="outcome is unknown"):
        await client.bills.create(_bill(payee, "freshbooks:bill:500", "120.00"))
    # What the sync engine does next: look it up before re-creating.
    [existing] = await client.bills.find_by_remote_id(
        "freshbooks:bill:500", vendor_id=payee.vendor.id
    )
    assert existing.amount.amount == 12000
    counters = await sandbox.counters()
    assert counters["bills_created"] == 1
    assert counters["duplicate_bills_by_remote_id"] == 0


async def test_server_errors_on_reads_are_retried(client: RampClient, sandbox: Sandbox) -> None:
    payee = await _vendor(client, "Retry Me Inc")
    await sandbox.post("/_sandbox/faults", {"server_error": {"requests": 2, "status": 503}})
    assert (await client.vendors.get(payee.vendor.id)).id == payee.vendor.id


async def test_server_error_on_vendor_create_is_not_resent(
    client: RampClient, sandbox: Sandbox
) -> None:
    owner = await _owner_id(client)
    await sandbox.post("/_sandbox/faults", {"server_error": {"requests": 1, "status": 500}})
    with pytest.raises(TransientApiError):
        await client.vendors.create(
            VendorCreate(
                name="Once Only",
                country="CA",
                vendor_owner_id=owner,
                business_vendor_contacts=VendorContactCreate(email="ap@once.example"),
            )
        )
    assert (await sandbox.counters())["vendors_created"] == 0
    assert await client.vendors.search("Once Only") == []
