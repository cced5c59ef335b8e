"""Callbacks CRUD, the verifier handshake, and signed event deliveries with their knobs."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks.signing import sign

pytestmark = pytest.mark.anyio
URI = "http://receiver.test/hooks/freshbooks"
ORDER = ["name", "object_id", "account_id", "business_id", "identity_id", "user_id"]


def _callbacks(world: FreshBooksWorld, suffix: str = "") -> str:
    return f"/events/account/{world.primary.account_id}/events/callbacks{suffix}"


async def _register(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], event: str = "bill"
) -> dict[str, Any]:
    response = await client.post(
        _callbacks(world), json={"callback": {"event": event, "uri": URI}}, headers=auth
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["response"]["result"]["callback"])


async def _verified(
    client: httpx2.AsyncClient,
    world: FreshBooksWorld,
    auth: dict[str, str],
    receiver: Any,
    event: str = "bill",
) -> dict[str, Any]:
    callback = await _register(client, world, auth, event)
    await world.webhooks.drain()
    verifier = receiver.handshakes()[-1]["verifier"]
    response = await client.put(
        _callbacks(world, f"/{callback['callbackid']}"),
        json={"callback": {"verifier": verifier}},
        headers=auth,
    )
    assert response.json()["response"]["result"]["callback"]["verified"] is True
    return callback


async def _vendor(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], name: str = "Acme"
) -> int:
    response = await client.post(
        f"/accounting/account/{world.primary.account_id}/bill_vendors/bill_vendors",
        json={"bill_vendor": {"vendor_name": name}},
        headers=auth,
    )
    return int(response.json()["response"]["result"]["bill_vendor"]["vendorid"])


async def test_register_sends_a_signed_handshake_and_nothing_else_until_verified(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], receiver: Any
) -> None:
    callback = await _register(client, world, auth, "bill_vendor.create")
    assert callback["verified"] is False
    assert callback["event"] == "bill_vendor.create"
    assert receiver.posts == []  # queued, not sent inside the request
    await world.webhooks.drain()
    (handshake,) = receiver.posts
    form = dict(handshake.form)
    assert form["object_id"] == str(callback["callbackid"])
    assert len(form["verifier"]) >= 20
    assert handshake.headers["content-type"] == "application/x-www-form-urlencoded"
    assert handshake.headers["x-freshbooks-hmac-sha256"] == sign(handshake.form, form["verifier"])
    await _vendor(client, world, auth)
    await world.webhooks.drain()
    assert receiver.events() == []


async def test_verified_callback_gets_signed_deliveries_in_documented_field_order(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], receiver: Any
) -> None:
    await _verified(client, world, auth, receiver, "bill_vendor")
    verifier = receiver.handshakes()[-1]["verifier"]
    vendorid = await _vendor(client, world, auth)
    await client.put(
        f"/accounting/account/{world.primary.account_id}/bill_vendors/bill_vendors/{vendorid}",
        json={"bill_vendor": {"vis_state": 1}},
        headers=auth,
    )
    sent = await world.webhooks.drain()
    assert [a.outcome for a in sent] == ["delivered", "delivered"]
    deliveries = [p for p in receiver.posts if "verifier" not in dict(p.form)]
    assert [dict(p.form)["name"] for p in deliveries] == [
        "bill_vendor.create",
        "bill_vendor.delete",
    ]
    first = deliveries[0]
    assert [k for k, _ in first.form] == ORDER
    assert dict(first.form) | {"identity_id": "x"} == {
        "name": "bill_vendor.create",
        "object_id": str(vendorid),
        "account_id": world.primary.account_id,
        "business_id": str(world.primary.id),
        "identity_id": "x",
        "user_id": "1",
    }
    assert first.headers["x-freshbooks-hmac-sha256"] == sign(first.form, verifier)
    counters = (await client.get("/_sandbox/counters")).json()
    assert counters["webhook_deliveries"]["delivered"] == 3  # handshake + two events


async def test_wrong_verifier_is_422_and_resend_repeats_the_handshake(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], receiver: Any
) -> None:
    callback = await _register(client, world, auth)
    wrong = await client.put(
        _callbacks(world, f"/{callback['callbackid']}"),
        json={"callback": {"verifier": "nope"}},
        headers=auth,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errno"] == 422
    assert wrong.json()["details"]
    resent = await client.put(
        _callbacks(world, f"/{callback['callbackid']}"),
        json={"callback": {"resend": True}},
        headers=auth,
    )
    assert resent.status_code == 200
    await world.webhooks.drain()
    assert len(receiver.handshakes()) == 2
    assert receiver.handshakes()[0]["verifier"] == receiver.handshakes()[1]["verifier"]


async def test_callbacks_list_get_delete_and_events_error_shapes(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str]
) -> None:
    bill = await _register(client, world, auth, "bill.create")
    await _register(client, world, auth, "expense")
    listed = (await client.get(_callbacks(world) + "?search[event]=bill", headers=auth)).json()[
        "response"
    ]["result"]
    assert [c["callbackid"] for c in listed["callbacks"]] == [bill["callbackid"]]
    assert listed["per_page"] == 15
    got = await client.get(_callbacks(world, f"/{bill['callbackid']}"), headers=auth)
    assert got.json()["response"]["result"]["callback"]["uri"] == URI
    deleted = await client.delete(_callbacks(world, f"/{bill['callbackid']}"), headers=auth)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(_callbacks(world, f"/{bill['callbackid']}"), headers=auth)
    assert gone.status_code == 404
    assert gone.json() == {
        "errno": 404,
        "message": "Requested resource could not be found.",
    }
    bad = await client.post(
        _callbacks(world),
        json={"callback": {"event": "bill.explode", "uri": "nowhere"}},
        headers=auth,
    )
    assert bad.status_code == 422
    assert bad.json()["details"] == [
        "event: Value error, Unrecognized event.",
        "uri: Input should be a valid URL, relative URL without a base",
    ]
    unauthenticated = await client.get(_callbacks(world), headers={"Authorization": "Bearer x"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["errno"] == 401


async def test_bill_payments_surface_as_bill_update(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], receiver: Any
) -> None:
    await _verified(client, world, auth, receiver, "bill")
    books = world.primary.books
    vendorid = await _vendor(client, world, auth)
    bill = books.create(
        "bills",
        {
            "vendorid": vendorid,
            "issue_date": "2026-10-01",
            "due_offset_days": 0,
            "currency_code": "USD",
            "lines": [
                {
                    "categoryid": books.category_named("Software").id,
                    "quantity": 1,
                    "unit_cost": {"amount": "10"},
                }
            ],
        },
    )
    books.create(
        "bill_payments",
        {
            "billid": bill.id,
            "amount": {"amount": "10"},
            "paid_date": "2026-10-02",
            "payment_type": "ACH",
        },
    )
    await world.webhooks.drain()
    assert [(e["name"], e["object_id"]) for e in receiver.events()] == [
        ("bill.create", str(bill.id)),
        ("bill.update", str(bill.id)),
    ]


async def test_delay_duplication_loss_and_reordering_knobs(
    client: httpx2.AsyncClient,
    world: FreshBooksWorld,
    auth: dict[str, str],
    receiver: Any,
    clock: EmulatorClock,
) -> None:
    await _verified(client, world, auth, receiver, "bill_vendor")
    await client.post("/_sandbox/webhooks", json={"delay_seconds": 120})
    await _vendor(client, world, auth, "Late")
    assert await world.webhooks.drain() == []
    clock.advance(120)
    assert [a.name for a in await world.webhooks.drain()] == ["bill_vendor.create"]

    world.webhooks.knobs.update({"delay_seconds": 0, "duplicate_rate": 1.0})
    await _vendor(client, world, auth, "Twice")
    assert len(await world.webhooks.drain()) == 2

    world.webhooks.knobs.update({"duplicate_rate": 0, "loss_rate": 1.0})
    await _vendor(client, world, auth, "Lost")
    assert await world.webhooks.drain() == []
    assert world.webhooks.log[-1].outcome == "lost"

    world.webhooks.knobs.update({"loss_rate": 0, "reorder": True})
    ids = [await _vendor(client, world, auth, f"V{i}") for i in range(8)]
    delivered = [int(a.object_id) for a in await world.webhooks.drain()]
    assert sorted(delivered) == sorted(ids)
    assert delivered != ids


async def test_failed_deliveries_are_retried_with_backoff(
    client: httpx2.AsyncClient,
    world: FreshBooksWorld,
    auth: dict[str, str],
    receiver: Any,
    clock: EmulatorClock,
) -> None:
    await _verified(client, world, auth, receiver, "bill_vendor")
    receiver.status = 500
    await _vendor(client, world, auth)
    assert [a.outcome for a in await world.webhooks.drain()] == ["rejected"]
    clock.advance(60)
    receiver.status = 200
    assert [(a.outcome, a.attempt) for a in await world.webhooks.drain()] == [("delivered", 2)]


async def test_sandbox_writes_and_scenario_seeding_announce_webhooks(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str], receiver: Any
) -> None:
    await _verified(client, world, auth, receiver, "expense")
    created = await client.post(
        f"/_sandbox/accounts/{world.primary.account_id}/expenses",
        json={
            "amount": {"amount": "12.00", "code": "USD"},
            "date": "2026-10-01",
            "categoryid": world.primary.books.category_named("Software").id,
        },
    )
    assert created.status_code == 200
    await client.post("/_sandbox/scenario", json={"scenario": "services-firm"})
    drained = (await client.post("/_sandbox/webhooks/drain")).json()["sent"]
    assert len(drained) == len(world.primary.books.expenses) > 100
    assert {d["name"] for d in drained} == {"expense.create"}
