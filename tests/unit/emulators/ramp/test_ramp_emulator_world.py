"""Seeding, faults, webhook knobs, transactions and the sandbox surface."""

from __future__ import annotations

from decimal import Decimal

import anyio
import httpx2
import pytest

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld, create_app
from ml_connector_emulators.scenarios import services_firm_roster

pytestmark = pytest.mark.anyio


def test_services_firm_transactions_mirror_the_roster_card_purchases(world: RampWorld) -> None:
    roster = services_firm_roster()
    card = [p for p in roster.purchases if p.paid_with == "card"]
    business = world.test_business
    seeded = list(business.transactions.values())
    assert len(seeded) == len(card)
    users = business.users
    expected = sorted(
        (p.amount, p.currency, p.spent_on, p.merchant, p.staff_email, p.department) for p in card
    )
    actual = sorted(
        (
            t.amount,
            t.currency,
            t.user_transaction_time.date(),
            t.merchant_name,
            users[t.user_id].email,
            business.departments[t.department_id or ""].name,
        )
        for t in seeded
    )
    assert actual == expected
    assert sorted(d.name for d in business.departments.values()) == sorted(roster.departments)
    by_email = {u.email: u for u in users.values()}
    for member in roster.staff:
        assert by_email[member.email].card_id is not None


def test_empty_scenario_can_still_post_bills(clock: EmulatorClock) -> None:
    world = RampWorld(scenario="empty", clock=clock)
    business = world.test_business
    assert business.transactions == {}
    assert len(business.users) == 1
    (entity,) = business.entities.values()
    assert any(a.usage_type == "BILL_PAY_BANK_ACCOUNT" for a in entity.accounts)


def test_worlds_are_deterministic_per_seed(clock: EmulatorClock) -> None:
    one, two = RampWorld(clock=clock), RampWorld(clock=clock)
    three = RampWorld(clock=clock, seed=7)
    client = next(iter(one.test_business.clients.values()))
    assert client.client_secret == next(iter(two.test_business.clients.values())).client_secret
    assert one.test_business_id == two.test_business_id != three.test_business_id
    with pytest.raises(ValueError, match="Unknown scenario"):
        RampWorld(scenario="nope", clock=clock)


async def test_drop_after_write_commits_then_raises_in_process(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld
) -> None:
    armed = await http.post(
        "/_sandbox/faults", json={"drop_after_write": {"route": "POST /developer/v1/departments"}}
    )
    assert armed.json()["drop_after_write"] == [
        {"route": "POST /developer/v1/departments", "count": 1}
    ]
    # A write on another route is not dropped.
    located = await http.post("/developer/v1/locations", headers=headers, json={"name": "Boston"})
    assert located.status_code == 201
    before = len(world.test_business.departments)
    with pytest.raises(httpx2.RemoteProtocolError):
        await http.post("/developer/v1/departments", headers=headers, json={"name": "Legal"})
    assert len(world.test_business.departments) == before + 1
    again = await http.post("/developer/v1/departments", headers=headers, json={"name": "Tax"})
    assert again.status_code == 201  # the fault was spent
    assert world.counters.dropped_connections == 1


async def test_failed_write_is_not_dropped(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    await http.post("/_sandbox/faults", json={"drop_after_write": {}})
    refused = await http.post("/developer/v1/departments", headers=headers, json={})
    assert refused.status_code == 422  # nothing committed: the answer goes through
    faults = (await http.get("/_sandbox/faults")).json()
    assert faults["drop_after_write"] == [{"route": None, "count": 1}]


async def test_server_errors_and_429_storms(
    http: httpx2.AsyncClient, headers: dict[str, str], clock: EmulatorClock
) -> None:
    await http.post("/_sandbox/faults", json={"server_error": {"requests": 2, "status": 503}})
    statuses = [
        (await http.get("/developer/v1/users", headers=headers)).status_code for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    await http.post("/_sandbox/faults", json={"rate_limit": {"seconds": 30}})
    storm = await http.get("/developer/v1/users", headers=headers)
    assert storm.status_code == 429
    assert storm.headers["Retry-After"] == "30"
    clock.advance(31)
    assert (await http.get("/developer/v1/users", headers=headers)).status_code == 200
    assert (await http.get("/_sandbox/counters")).json()["faults_injected"] == 3


async def test_the_limiter_counts_a_request_on_arrival_not_after_the_latency(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld, clock: EmulatorClock
) -> None:
    # Ramp counts a request when it arrives. The simulated latency is the round trip; a
    # count taken after it would move with this process's own lag.
    await http.post("/_sandbox/faults", json={"latency_ms": 1000})
    world.limiter.configure(limit=1, window_seconds=10)
    world.limiter.reset()  # the token request and the call above spent the budget
    statuses: list[int] = []

    async def slow_call() -> None:
        statuses.append((await http.get("/developer/v1/users", headers=headers)).status_code)

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_call)
        await anyio.sleep(0.2)  # the first request is inside its simulated latency
        clock.advance(10)  # ... when its window, counted from arrival, runs out
    statuses.append((await http.get("/developer/v1/users", headers=headers)).status_code)
    assert statuses == [200, 200]


async def test_retry_after_header_is_a_switch(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    await http.post("/_sandbox/quirks", json={"retry_after_header": False})
    await http.post("/_sandbox/faults", json={"rate_limit": {"requests": 1}})
    storm = await http.get("/developer/v1/users", headers=headers)
    assert storm.status_code == 429
    assert "retry-after" not in storm.headers
    bad = await http.post("/_sandbox/quirks", json={"no_such_quirk": 1})
    assert bad.status_code == 400


async def _active_subscription(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld
) -> str:
    created = (
        await http.post(
            "/developer/v1/webhooks",
            headers=headers,
            json={"endpoint_url": "https://hooks.example/ramp", "event_types": ["bills.created"]},
        )
    ).json()
    subscription = world.webhooks.subscriptions[created["id"]]
    world.webhooks.verify(subscription, subscription.challenge)
    return str(created["id"])


async def test_duplicate_and_lost_delivery_knobs(
    http: httpx2.AsyncClient,
    headers: dict[str, str],
    world: RampWorld,
    deliveries: list[httpx2.Request],
) -> None:
    await _active_subscription(http, headers, world)
    await world.webhooks.drain()
    deliveries.clear()
    await http.post("/_sandbox/webhooks/knobs", json={"duplicate_rate": 1})
    world.webhooks.emit(world.test_business_id, "bills.created", "bill-1")
    await world.webhooks.drain()
    assert len(deliveries) == 2
    assert deliveries[0].content == deliveries[1].content
    deliveries.clear()
    await http.post("/_sandbox/webhooks/knobs", json={"duplicate_rate": 0, "loss_rate": 1})
    world.webhooks.emit(world.test_business_id, "bills.created", "bill-2")
    await world.webhooks.drain()
    assert deliveries == []
    assert world.webhooks.counts()["lost"] == 1


async def test_reorder_knob_changes_delivery_order(
    http: httpx2.AsyncClient,
    headers: dict[str, str],
    world: RampWorld,
    deliveries: list[httpx2.Request],
) -> None:
    await _active_subscription(http, headers, world)
    await world.webhooks.drain()
    deliveries.clear()
    world.webhooks.knobs.reorder = True
    ids = [f"bill-{i}" for i in range(12)]
    for object_id in ids:
        world.webhooks.emit(world.test_business_id, "bills.created", object_id)
    await world.webhooks.drain()
    import json

    received = [json.loads(r.content)["object"]["id"] for r in deliveries]
    assert sorted(received) == sorted(ids)
    assert received != ids


async def test_timeouts_are_retried(clock: EmulatorClock) -> None:
    calls: list[int] = []

    def flaky(request: httpx2.Request) -> httpx2.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx2.ReadTimeout("slow receiver", request=request)
        return httpx2.Response(200)

    world = RampWorld(clock=clock, webhook_transport=httpx2.MockTransport(flaky))
    subscription = world.webhooks.subscribe(
        business_id=world.test_business_id,
        endpoint_url="https://hooks.example/r",
        event_types=["bills.created"],
        additional_headers={},
        secret="ramp_sec_x",
        challenge="c",
    )
    await world.webhooks.drain()
    assert world.webhooks.deliveries[0].attempts[0].error == "timeout"
    clock.advance(2)
    await world.webhooks.drain()
    assert world.webhooks.deliveries[0].state == "delivered"
    assert subscription.status == "pending_verification"


async def test_transaction_filters_and_line_item_coding(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld
) -> None:
    twin = await http.get(
        "/developer/v1/transactions",
        headers=headers,
        params={
            "from_date": "2026-10-14T00:00:00Z",
            "to_date": "2026-10-14T23:59:59Z",
            "min_amount": "23.40",
            "max_amount": "23.40",
        },
    )
    rides = twin.json()["data"]
    assert len(rides) == 2  # the ambiguous twin charges
    assert {r["merchant_name"] for r in rides} == {"UBER *TRIP"}
    assert rides[0]["amount"] == 23.4
    assert rides[0]["original_transaction_amount"] == {"amount": 2340, "currency_code": "USD"}
    merchant = await http.get(
        "/developer/v1/transactions",
        headers=headers,
        params={"merchant_id": rides[0]["merchant_id"], "page_size": 100},
    )
    assert all(t["merchant_name"] == "UBER *TRIP" for t in merchant.json()["data"])
    await http.post(
        "/developer/v1/accounting/connection", headers=headers, json={"remote_provider_name": "FB"}
    )
    await http.post(
        "/developer/v1/accounting/accounts",
        headers=headers,
        json={"gl_accounts": [{"id": "6200", "name": "Car & Truck", "classification": "EXPENSE"}]},
    )
    url = f"/developer/v1/transactions/{rides[0]['id']}"
    coding = [{"field_external_id": "Category", "field_option_external_id": "6200"}]
    wrong = await http.patch(
        url,
        headers=headers,
        json={"line_items": [{"amount": "20.00", "accounting_field_selections": coding}]},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error_v2"]["error_code"] == "ACCOUNTING_7008"
    split = [
        {"amount": "20.00", "accounting_field_selections": coding},
        {"amount": 3.40, "accounting_field_selections": coding},
    ]
    coded = await http.patch(url, headers=headers, json={"line_items": split, "memo": "ignored"})
    assert coded.status_code == 200
    body = coded.json()
    assert [line["amount"]["amount"] for line in body["line_items"]] == [2000, 340]
    assert body["memo"] is None
    memo = await http.post(
        f"/developer/v1/memos/{rides[0]['id']}",
        headers=headers,
        json={"memo": "FreshBooks expense 991"},
    )
    assert memo.status_code == 201
    fetched = (await http.get(url, headers=headers)).json()
    assert fetched["memo"] == "FreshBooks expense 991"
    world.test_business.transactions[rides[0]["id"]].sync_status = "SYNCED"
    locked = await http.patch(url, headers=headers, json={"line_items": split})
    assert locked.status_code == 403


async def test_declined_transactions_need_state_all(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    seeded = await http.post(
        "/_sandbox/transactions",
        json={
            "amount": "12.00",
            "merchant_name": "DECLINED CAFE",
            "date": "2026-11-01",
            "state": "DECLINED",
        },
    )
    assert seeded.status_code == 201
    tx_id = seeded.json()["id"]
    default = await http.get(
        "/developer/v1/transactions",
        headers=headers,
        params={"page_size": 100, "from_date": "2026-11-01T00:00:00Z"},
    )
    assert tx_id not in [t["id"] for t in default.json()["data"]]
    everything = await http.get(
        "/developer/v1/transactions",
        headers=headers,
        params={"state": "ALL", "from_date": "2026-11-01T00:00:00Z"},
    )
    assert tx_id in [t["id"] for t in everything.json()["data"]]
    assert Decimal(str(everything.json()["data"][0]["amount"])) == Decimal("12.00")


async def test_sandbox_state_clock_reset_and_token_expiry(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld
) -> None:
    state = (await http.get("/_sandbox/state")).json()
    assert state["scenario"] == "services-firm"
    assert state["test_business_id"] == world.test_business_id
    assert len(state["businesses"]) == 2
    assert "client_secret" not in str(state)
    moved = (await http.post("/_sandbox/clock", json={"advance_seconds": 3600})).json()
    assert moved["now"].startswith("2026-11-02T16:00")
    expired = (await http.post("/_sandbox/tokens/expire", json={})).json()
    assert expired["expired"] == 1
    assert (await http.get("/developer/v1/users", headers=headers)).status_code == 401
    await http.post("/_sandbox/reset", json={"scenario": "empty"})
    assert world.scenario == "empty"
    assert world.test_business.transactions == {}


async def test_a_new_business_gets_its_own_client(
    http: httpx2.AsyncClient, world: RampWorld
) -> None:
    created = await http.post("/_sandbox/businesses", json={"name": "Third Co"})
    assert created.status_code == 201
    body = created.json()
    token = await http.post(
        "/developer/v1/token",
        auth=(body["client_id"], body["client_secret"]),
        data={"grant_type": "client_credentials", "scope": "users:read"},
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    users = (await http.get("/developer/v1/users", headers=headers)).json()["data"]
    assert [u["business_id"] for u in users] == [body["business_id"]]
    assert len(world.businesses) == 3


async def test_served_flag_comes_from_the_lifespan(world: RampWorld) -> None:
    app = create_app(world)
    assert app.state.world is world
    assert app.state.served is False
