"""The unchanged official `freshbooks-sdk` against the emulator over real sockets.

Covers the SDK paths the connector's reading of FreshBooks relies on: consent and code
exchange, refresh rotation (the spent refresh token refused), users/me, CRUD and
paginated lists of vendors, bills and expenses, categories, callbacks
(create/verify/resend/delete), and a signed delivery checked with FreshBooks' documented
algorithm, written out here independently of the emulator's signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from freshbooks import Client, FilterBuilder, IncludesBuilder, PaginateBuilder
from freshbooks.errors import FreshBooksError

from ml_connector_emulators.freshbooks import FreshBooksWorld

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _approve(auth_url: str) -> str:
    """Drive the consent page like a browser would; the authorization code."""
    page = requests.get(auth_url, timeout=10)
    assert page.status_code == 200
    action = re.search(r"<form method='post' action='([^']+)'>", page.text)
    assert action is not None
    form = {name: unescape(value) for name, value in _HIDDEN.findall(page.text)}
    base = "{0.scheme}://{0.netloc}".format(urlsplit(auth_url))
    answer = requests.post(
        base + action.group(1),
        data={**form, "decision": "approve"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def _new_client(world: FreshBooksWorld) -> Client:
    app = world.oauth.app
    return Client(
        client_id=app.client_id, client_secret=app.client_secret, redirect_uri=app.redirect_uris[0]
    )


@pytest.fixture
def signed_in(
    sdk_env: tuple[FreshBooksWorld, str],
) -> tuple[Client, str, FreshBooksWorld, str]:
    world, url = sdk_env
    client = _new_client(world)
    client.get_access_token(_approve(client.get_auth_request_url()))
    return client, world.primary.account_id, world, url


def _category_id(client: Client, account_id: str, name: str) -> int:
    categories = client.expenses_categories.list(account_id, builders=[PaginateBuilder(1, 100)])
    return int(next(c.id for c in categories if c.category == name))


def test_consent_and_code_exchange(sdk_env: tuple[FreshBooksWorld, str]) -> None:
    world, url = sdk_env
    client = _new_client(world)
    auth_url = client.get_auth_request_url(scopes=["user:profile:read", "user:bills:read"])
    assert auth_url.startswith(f"{url}/oauth/authorize?")
    before = datetime.now(UTC)
    tokens = client.get_access_token(_approve(auth_url))
    assert tokens.access_token
    assert len(tokens.refresh_token) == 64
    assert (
        before + timedelta(hours=11)
        < tokens.access_token_expires_at
        <= datetime.now(UTC) + timedelta(hours=12)
    )


def test_refresh_rotation_refuses_the_spent_refresh_token(
    signed_in: tuple[Client, str, FreshBooksWorld, str],
) -> None:
    client, _, world, url = signed_in
    spent = client.refresh_token
    before = requests.get(f"{url}/_sandbox/counters", timeout=10).json()
    rotated = client.refresh_access_token()
    assert rotated.refresh_token != spent
    assert client.current_user().email == world.user.email  # the new access token works
    replay = _new_client(world)
    with pytest.raises(FreshBooksError) as refused:
        replay.refresh_access_token(spent)
    assert refused.value.status_code == 400
    after = requests.get(f"{url}/_sandbox/counters", timeout=10).json()
    assert after["refreshes"] == before["refreshes"] + 1
    assert after["refresh_token_reuses"] == before["refresh_token_reuses"] + 1


def test_users_me(signed_in: tuple[Client, str, FreshBooksWorld, str]) -> None:
    client, account_id, world, _ = signed_in
    identity = client.current_user()
    assert identity.identity_id == world.user.identity_id
    (membership,) = list(identity.business_memberships)
    assert membership.business.account_id == account_id
    assert membership.business.business_uuid == world.primary.uuid
    assert membership.business.id == world.primary.id


def test_bill_vendors_crud_and_pagination(
    signed_in: tuple[Client, str, FreshBooksWorld, str],
) -> None:
    client, account_id, _, _ = signed_in
    created = [
        client.bill_vendors.create(
            account_id, {"vendor_name": f"SDK Vendor {i}", "currency_code": "USD"}
        )
        for i in range(3)
    ]
    ids = [v.vendorid for v in created]
    first = client.bill_vendors.list(account_id, builders=[PaginateBuilder(1, 2)])
    second = client.bill_vendors.list(account_id, builders=[PaginateBuilder(2, 2)])
    assert first.pages.per_page == 2
    assert first.pages.total >= 3
    assert first.pages.pages >= 2
    assert len(first) == 2
    assert len(second) >= 1
    fetched = client.bill_vendors.get(account_id, ids[0])
    assert fetched.vendor_name == "SDK Vendor 0"
    assert fetched.created_at.tzinfo is not None  # bill vendor timestamps are UTC per the SDK
    updated = client.bill_vendors.update(account_id, ids[0], {"phone": "555-0199"})
    assert updated.phone == "555-0199"
    assert updated.vendor_name == "SDK Vendor 0"
    deleted = client.bill_vendors.delete(account_id, ids[0])
    assert deleted.vis_state == 1
    remaining = client.bill_vendors.list(account_id, builders=[PaginateBuilder(1, 100)])
    assert ids[0] not in [v.vendorid for v in remaining]
    only_deleted = client.bill_vendors.list(
        account_id, builders=[FilterBuilder().equals("vis_state", 1)]
    )
    assert ids[0] in [v.vendorid for v in only_deleted]


def test_bills_crud_filters_and_includes(
    signed_in: tuple[Client, str, FreshBooksWorld, str],
) -> None:
    client, account_id, _, _ = signed_in
    vendor = client.bill_vendors.create(account_id, {"vendor_name": "Bills Vendor"})
    office = _category_id(client, account_id, "Office Supplies")
    bill = client.bills.create(
        account_id,
        {
            "vendorid": str(vendor.vendorid),
            "bill_number": None,
            "issue_date": "2026-10-09",
            "due_offset_days": 30,
            "currency_code": "USD",
            "language": "en",
            "lines": [
                {
                    "categoryid": str(office),
                    "description": "Chairs",
                    "quantity": 2,
                    "unit_cost": {"amount": "125", "code": "USD"},
                    "tax_name1": None,
                    "tax_percent1": None,
                    "compounded_tax": False,
                }
            ],
            "attachment": None,
        },
    )
    assert bill.total_amount.amount == "250.00"
    assert bill.lines[0].quantity == "2"
    assert bill.due_date.isoformat() == "2026-11-08"
    listed = client.bills.list(
        account_id,
        builders=[
            FilterBuilder().in_list("statuses", ["unpaid", "overdue"]),
            IncludesBuilder().include("vendor"),
        ],
    )
    assert bill.id in [b.id for b in listed]
    with_vendor = client.bills.get(
        account_id, bill.id, includes=IncludesBuilder().include("vendor")
    )
    assert with_vendor.vendor.vendor_name == "Bills Vendor"
    by_vendor = client.bills.list(
        account_id, builders=[FilterBuilder().equals("vendorid", vendor.vendorid)]
    )
    assert [b.id for b in by_vendor] == [bill.id]
    client.bill_payments.create(
        account_id,
        {
            "billid": bill.id,
            "amount": {"amount": "100.00", "code": "USD"},
            "paid_date": "2026-10-10",
            "payment_type": "Check",
        },
    )
    partial = client.bills.get(account_id, bill.id)
    assert partial.status == "partial"
    assert partial.outstanding.amount == "150.00"
    updated = client.bills.update(account_id, bill.id, {"bill_number": "INV-77"})
    assert updated.bill_number == "INV-77"
    client.bills.delete(account_id, bill.id)
    assert bill.id not in [b.id for b in client.bills.list(account_id)]


def test_expenses_crud_and_categories(signed_in: tuple[Client, str, FreshBooksWorld, str]) -> None:
    client, account_id, _, _ = signed_in
    categories = client.expenses_categories.list(account_id, builders=[PaginateBuilder(1, 100)])
    assert 45 <= categories.pages.total <= 100
    gas = _category_id(client, account_id, "Gas")
    category = client.expenses_categories.get(account_id, gas)
    assert category.category == "Gas"
    assert category.parentid is not None
    expense = client.expenses.create(
        account_id,
        {
            "amount": {"amount": "79.73", "code": "USD"},
            "vendor": "Shell Gas Station",
            "date": "2026-10-24",
            "staffid": 1,
            "categoryid": str(gas),
            "notes": "Fuel",
            "taxName1": "other tax",
            "taxPercent1": 13,
        },
    )
    assert expense.taxAmount1.amount == "9.17"
    assert expense.taxPercent1 == "13"
    assert expense.updated.tzinfo is not None
    window = client.expenses.list(
        account_id, builders=[FilterBuilder().between("date", "2026-10-01", "2026-11-01")]
    )
    assert expense.id in [e.id for e in window]
    included = client.expenses.get(
        account_id, expense.id, includes=IncludesBuilder().include("category")
    )
    assert included.category.category == "Gas"
    updated = client.expenses.update(account_id, expense.id, {"vendor": "WestJet"})
    assert updated.vendor == "WestJet"
    assert updated.amount.amount == "79.73"
    client.expenses.delete(account_id, expense.id)
    with pytest.raises(FreshBooksError) as missing:
        client.expenses.get(account_id, 987654321)
    assert missing.value.status_code == 404
    assert missing.value.error_code == 1012


def _freshbooks_signature(form: list[tuple[str, str]], verifier: str) -> str:
    """FreshBooks' documented signer (reference §6.5), written out independently."""
    message = json.dumps({key: str(value) for key, value in form})
    digest = hmac.new(
        verifier.encode("utf-8"), msg=message.encode("utf-8"), digestmod=hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def test_callbacks_verify_resend_and_a_signed_delivery(
    signed_in: tuple[Client, str, FreshBooksWorld, str], receiver_server: tuple[Any, str]
) -> None:
    client, account_id, _, _ = signed_in
    receiver, hook_url = receiver_server
    callback = client.callbacks.create(account_id, {"event": "bill_vendor.create", "uri": hook_url})
    assert callback.verified is False
    callback_id = str(callback.callbackid)
    handshake = dict(
        receiver.wait_for(lambda f: f.get("object_id") == callback_id and "verifier" in f)
    )
    verified = client.callbacks.verify(account_id, callback.callbackid, handshake["verifier"])
    assert verified.verified is True
    client.callbacks.resend_verification(account_id, callback.callbackid)

    def handshakes() -> list[dict[str, str]]:
        return [
            dict(f)
            for f, _ in receiver.posts
            if dict(f).get("object_id") == callback_id and "verifier" in dict(f)
        ]

    receiver.wait_for(lambda _: len(handshakes()) >= 2)
    assert {h["verifier"] for h in handshakes()} == {handshake["verifier"]}
    listed = client.callbacks.list(account_id)
    assert callback.callbackid in [c.callbackid for c in listed]

    vendor = client.bill_vendors.create(account_id, {"vendor_name": "Webhook Vendor"})
    form = receiver.wait_for(
        lambda f: (
            f.get("name") == "bill_vendor.create" and f.get("object_id") == str(vendor.vendorid)
        )
    )
    assert dict(form)["account_id"] == account_id
    signature = receiver.headers_of(form)["x-freshbooks-hmac-sha256"]
    assert hmac.compare_digest(signature, _freshbooks_signature(form, handshake["verifier"]))
    assert not hmac.compare_digest(signature, _freshbooks_signature(form, "wrong-verifier"))

    assert client.callbacks.delete(account_id, callback.callbackid).data == {}
    with pytest.raises(FreshBooksError) as gone:
        client.callbacks.get(account_id, callback.callbackid)
    assert gone.value.status_code == 404
