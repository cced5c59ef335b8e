from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx2
import pydantic
import pytest

from ml_connector.clients.ramp.models import (
    AccountingSelection,
    Bill,
    BillCreate,
    BillLineItemCreate,
    BillUpdate,
    CurrencyAmount,
    ManualPaymentDetails,
    Transaction,
    VendorContactCreate,
    VendorCreate,
    WebhookSubscriptionWithSecret,
)
from ml_connector.clients.ramp.money import fits_currency, from_minor_units
from ml_connector.clients.ramp.requester import decode_json


def _bill(**overrides: Any) -> BillCreate:
    fields: dict[str, Any] = {
        "vendor_id": "v1",
        "vendor_contact_id": "c1",
        "entity_id": "e1",
        "invoice_number": "FB-000432",
        "invoice_currency": "USD",
        "issued_at": date(2025, 5, 1),
        "due_at": date(2025, 5, 31),
        "payment_method": "PAID_MANUALLY",
        "payment_details": ManualPaymentDetails(
            manual_payment_method="OTHER", payment_date=date(2025, 5, 20)
        ),
        "remote_id": "freshbooks:bill:432",
        "line_items": [
            BillLineItemCreate(
                amount=Decimal("19.98"),
                memo="Telephone Headset",
                accounting_field_selections=[
                    AccountingSelection(
                        field_external_id="Category", field_option_external_id="6410"
                    )
                ],
            ),
            BillLineItemCreate(amount=Decimal("949.95")),
        ],
    }
    fields.update(overrides)
    return BillCreate(**fields)


def test_bill_create_wire_matches_the_reference_shape() -> None:
    assert _bill().wire() == {
        "vendor_id": "v1",
        "vendor_contact_id": "c1",
        "entity_id": "e1",
        "invoice_number": "FB-000432",
        "invoice_currency": "USD",
        "issued_at": "2025-05-01",
        "due_at": "2025-05-31",
        "payment_method": "PAID_MANUALLY",
        "payment_details": {"manual_payment_method": "OTHER", "payment_date": "2025-05-20"},
        "remote_id": "freshbooks:bill:432",
        "line_items": [
            {
                "amount": "19.98",
                "memo": "Telephone Headset",
                "accounting_field_selections": [
                    {"field_external_id": "Category", "field_option_external_id": "6410"}
                ],
            },
            {"amount": "949.95"},
        ],
    }


def test_large_and_tiny_decimals_are_sent_in_fixed_point() -> None:
    wire = _bill(
        line_items=[
            BillLineItemCreate(amount=Decimal("1E+7")),
            BillLineItemCreate(amount=Decimal("0.10")),
        ]
    ).wire()
    assert [line["amount"] for line in wire["line_items"]] == ["10000000", "0.10"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"invoice_number": "X" * 21}, "at most 20"),
        ({"memo": "m" * 1001}, "at most 1000"),
        ({"line_items": []}, "at least 1"),
        ({"line_items": [BillLineItemCreate(amount=Decimal("1.005"))]}, "more decimals than USD"),
        (
            {
                "invoice_currency": "JPY",
                "line_items": [BillLineItemCreate(amount=Decimal("100.5"))],
            },
            "more decimals than JPY",
        ),
        ({"payment_details": None}, "PAID_MANUALLY needs payment_details"),
        ({"payment_method": "BITCOIN"}, "payment_method"),
    ],
)
def test_bill_create_refuses_what_ramp_would_refuse(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        _bill(**overrides)


def test_trailing_zeros_within_the_currency_are_fine() -> None:
    assert fits_currency(Decimal("19.980"), "USD")
    assert fits_currency(Decimal("100"), "JPY")
    assert not fits_currency(Decimal("0.001"), "USD")
    assert fits_currency(Decimal("0.001"), "KWD")
    assert not fits_currency(Decimal("NaN"), "USD")


def test_negative_line_amounts_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 0"):
        BillLineItemCreate(amount=Decimal("-1"))


def test_requests_forbid_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        BillLineItemCreate(amount=Decimal(1), visible=True)  # type: ignore[call-arg]


def test_patch_sends_only_what_was_set_including_explicit_nulls() -> None:
    assert BillUpdate(memo=None, due_at=date(2026, 1, 2)).wire() == {
        "memo": None,
        "due_at": "2026-01-02",
    }


def test_bill_response_keeps_minor_units_and_ignores_unknown_fields() -> None:
    bill = Bill.model_validate(
        {
            "id": "b1",
            "amount": {"amount": 96993, "currency_code": "USD"},
            "status": "PAID",
            "issued_at": "2025-05-01T00:00:00",
            "archived_at": None,
            "brand_new_field": {"anything": 1},
            "line_items": [
                {
                    "amount": {"amount": 1998, "currency_code": "USD"},
                    "accounting_field_selections": [],
                }
            ],
        }
    )
    assert bill.amount.amount == 96993
    assert bill.amount.to_decimal() == Decimal("969.93")
    assert bill.issued_at == datetime(2025, 5, 1, tzinfo=UTC)
    assert bill.is_paid
    assert not bill.is_archived


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(4000, "USD", "40.00"), (4000, "JPY", "4000"), (4000, "KWD", "4.000"), (-5, "EUR", "-0.05")],
)
def test_minor_units_to_decimal(minor: int, currency: str, major: str) -> None:
    assert CurrencyAmount(amount=minor, currency_code=currency).to_decimal() == Decimal(major)
    assert str(from_minor_units(minor, currency)) == major


def test_legacy_float_transaction_amount_is_read_exactly() -> None:
    response = httpx2.Response(
        200, content=b'{"id": "t1", "amount": 12345678901234567.123, "memo": null}'
    )
    transaction = Transaction.model_validate(decode_json(response))
    assert transaction.amount == Decimal("12345678901234567.123")


def test_vendor_create_needs_state_for_us_and_a_single_contact() -> None:
    contact = VendorContactCreate(email="ap@alisart.example", first_name="Ali")
    with pytest.raises(pydantic.ValidationError, match="US vendor needs a state"):
        VendorCreate(
            name="Ali's Art shop",
            country="US",
            vendor_owner_id="u1",
            business_vendor_contacts=contact,
        )
    vendor = VendorCreate(
        name="Ali's Art shop",
        country="US",
        state="CA",
        vendor_owner_id="u1",
        business_vendor_contacts=contact,
    )
    assert vendor.wire() == {
        "name": "Ali's Art shop",
        "country": "US",
        "state": "CA",
        "vendor_owner_id": "u1",
        "business_vendor_contacts": {"email": "ap@alisart.example", "first_name": "Ali"},
    }


def test_webhook_secret_is_not_in_repr() -> None:
    subscription = WebhookSubscriptionWithSecret.model_validate(
        {
            "id": "w1",
            "endpoint_url": "https://x",
            "event_types": [],
            "secret": "ramp_sec_hidden",
            "status": "PENDING_VERIFICATION",
        }
    )
    assert "ramp_sec_hidden" not in repr(subscription)
    assert subscription.status == "pending_verification"
    assert not subscription.is_active
