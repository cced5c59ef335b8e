"""Callbacks management, the verifier handshake and signed deliveries (reference §9.9)."""

from __future__ import annotations

from decimal import Decimal

import httpx2
import pytest
from fbemu_client_helpers import HOOK_URI, Receiver

from ml_connector.clients.freshbooks import FreshBooksClient
from ml_connector.core.errors import ApiValidationError, NotFoundError
from ml_connector.core.signatures.freshbooks import (
    SIGNATURE_HEADER,
    CallbackVerification,
    FreshBooksEvent,
    SignatureMismatchError,
    parse_delivery,
    verify_event,
    verify_signature,
)
from ml_connector_emulators.freshbooks import FreshBooksWorld


def last_handshake(receiver: Receiver) -> tuple[httpx2.Request, CallbackVerification]:
    for request in reversed(receiver.requests):
        delivery = parse_delivery(request.content)
        if isinstance(delivery, CallbackVerification):
            return request, delivery
    raise AssertionError("no handshake was delivered")


def events(receiver: Receiver) -> list[httpx2.Request]:
    return [r for r in receiver.requests if isinstance(parse_delivery(r.content), FreshBooksEvent)]


async def registered_and_verified(
    client: FreshBooksClient,
    account_id: str,
    world: FreshBooksWorld,
    receiver: Receiver,
    event: str = "bill",
) -> str:
    callbacks = client.callbacks(account_id)
    callback = await callbacks.register(event, HOOK_URI)
    await world.webhooks.drain()
    _, handshake = last_handshake(receiver)
    assert handshake.callback_id == str(callback.callbackid)
    assert (await callbacks.verify(callback.callbackid, handshake.verifier)).verified is True
    return handshake.verifier


@pytest.mark.anyio
async def test_register_handshake_verify_then_signed_events(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld, receiver: Receiver
) -> None:
    callbacks = client.callbacks(account_id)
    callback = await callbacks.register("bill_vendor", HOOK_URI)
    assert callback.verified is False
    assert callback.uri == HOOK_URI

    await world.webhooks.drain()
    request, handshake = last_handshake(receiver)
    assert str(request.url) == HOOK_URI
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert handshake.callback_id == str(callback.callbackid)
    # the handshake is signed with the verifier it carries
    assert verify_signature(
        request.content, request.headers[SIGNATURE_HEADER], [handshake.verifier]
    )

    # no events reach an unverified callback
    await client.bill_vendors(account_id).create({"vendor_name": "Early Ltd"})
    await world.webhooks.drain()
    assert events(receiver) == []

    assert (await callbacks.verify(callback.callbackid, handshake.verifier)).verified is True
    vendor = await client.bill_vendors(account_id).create({"vendor_name": "Acme & Co"})
    await world.webhooks.drain()

    [delivery] = events(receiver)
    event = verify_event(delivery.content, delivery.headers[SIGNATURE_HEADER], [handshake.verifier])
    assert (event.name, event.object_id, event.account_id) == (
        "bill_vendor.create",
        str(vendor.vendorid),
        account_id,
    )
    assert event.business_id == str(world.primary.id)
    assert [k for k, _ in event.fields] == [
        "name",
        "object_id",
        "account_id",
        "business_id",
        "identity_id",
        "user_id",
    ]
    with pytest.raises(SignatureMismatchError):
        verify_event(delivery.content, delivery.headers[SIGNATURE_HEADER], ["some-other-verifier"])


@pytest.mark.anyio
async def test_wrong_verifier_does_not_verify(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld, receiver: Receiver
) -> None:
    callbacks = client.callbacks(account_id)
    callback = await callbacks.register("bill.create", HOOK_URI)
    with pytest.raises(ApiValidationError):
        await callbacks.verify(callback.callbackid, "not-the-verifier")
    assert (await callbacks.get(callback.callbackid)).verified is False


@pytest.mark.anyio
async def test_resend_sends_the_handshake_again(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld, receiver: Receiver
) -> None:
    callbacks = client.callbacks(account_id)
    callback = await callbacks.register("expense", HOOK_URI)
    await world.webhooks.drain()
    assert len(receiver.requests) == 1
    resent = await callbacks.resend(callback.callbackid)
    await world.webhooks.drain()
    assert resent.callbackid == callback.callbackid
    assert len(receiver.requests) == 2
    _, handshake = last_handshake(receiver)
    assert (await callbacks.verify(callback.callbackid, handshake.verifier)).verified is True


@pytest.mark.anyio
async def test_list_filters_by_parent_event_and_delete(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld
) -> None:
    callbacks = client.callbacks(account_id)
    bill_create = await callbacks.register("bill.create", HOOK_URI)
    bill_all = await callbacks.register("bill", HOOK_URI)
    expense = await callbacks.register("expense.update", HOOK_URI)

    assert {c.callbackid async for c in callbacks.list()} == {
        bill_create.callbackid,
        bill_all.callbackid,
        expense.callbackid,
    }
    assert {c.callbackid async for c in callbacks.list(event="bill")} >= {bill_create.callbackid}
    assert expense.callbackid not in {c.callbackid async for c in callbacks.list(event="bill")}

    await callbacks.delete(bill_create.callbackid)
    deletes = {k: n for k, n in world.counters.statuses.items() if k.startswith("DELETE /events/")}
    assert list(deletes.values()) == [1]
    assert next(iter(deletes)).endswith(" 204")
    with pytest.raises(NotFoundError):
        await callbacks.get(bill_create.callbackid)
    assert bill_create.callbackid not in {c.callbackid async for c in callbacks.list()}


@pytest.mark.anyio
async def test_unknown_event_is_a_validation_error(
    client: FreshBooksClient, account_id: str
) -> None:
    with pytest.raises(ApiValidationError) as info:
        await client.callbacks(account_id).register("bill.explode", HOOK_URI)
    assert info.value.status == 422
    assert "Unrecognized event" in (info.value.detail or "")


@pytest.mark.anyio
async def test_bill_payment_surfaces_as_bill_update(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld, receiver: Receiver
) -> None:
    vendor = await client.bill_vendors(account_id).create({"vendor_name": "Paper Co"})
    children = [c.categoryid async for c in client.categories(account_id).list() if c.parentid]
    categoryid = children[0]
    bill = await client.bills(account_id).create(
        {
            "vendorid": vendor.vendorid,
            "issue_date": "2026-11-02",
            "due_offset_days": 0,
            "currency_code": "USD",
            "lines": [
                {
                    "categoryid": categoryid,
                    "quantity": 1,
                    "unit_cost": {"amount": Decimal("10.00"), "code": "USD"},
                }
            ],
        }
    )
    verifier = await registered_and_verified(client, account_id, world, receiver)
    await client.bill_payments(account_id).create(
        {
            "billid": bill.id,
            "amount": {"amount": Decimal("10.00"), "code": "USD"},
            "paid_date": "2026-11-03",
            "payment_type": "Cash",
        }
    )
    await world.webhooks.drain()
    names = [
        verify_event(r.content, r.headers[SIGNATURE_HEADER], [verifier]).name
        for r in events(receiver)
    ]
    assert names
    assert all(name.startswith("bill.") for name in names)
