"""Webhooks, per reference §9 and checklist §12.9."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx2
import pytest
from ramp_contract_helpers import Receiver, bill_body, create_vendor

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld, sign

pytestmark = pytest.mark.anyio

VECTOR_SECRET = "ramp_sec_test_secret"
VECTOR_BODY = (
    b'{"id":"a461a658-8d78-4e66-b1fd-9c818bcfea6b","type":"bills.created",'
    b'"created_at":"2025-04-01T12:00:00Z","business_id":"945c7d8f-6c35-4d63-9c1c-79e67c9cee73",'
    b'"object":{"id":"6e3816e3-0e53-42ae-b075-bdb0adff10c4"}}'
)
VECTOR_HEX = "fcf2be19ce1e40dedd3845d1203cc376654f8cf9286c778fd29b3352e1e41c0f"
VECTOR_BASE64 = "/PK+Gc4eQN7dOEXRIDzDdmVPjPkobHeP0pszUuHkHA8="


def test_signature_known_answer_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_HEX
    assert sign(VECTOR_SECRET, VECTOR_BODY, "base64") == VECTOR_BASE64


async def _subscribe_and_verify(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld, receiver: Receiver
) -> dict[str, Any]:
    created = await http.post(
        "/developer/v1/webhooks",
        headers=headers,
        json={
            "endpoint_url": "https://connector.example/webhooks/ramp",
            "event_types": ["bills.created", "bills.paid"],
            "additional_headers": {"X-Tenant": "northbeam"},
        },
    )
    assert created.status_code == 201
    subscription = created.json()
    assert subscription["status"] == "pending_verification"
    assert subscription["secret"]
    await world.webhooks.drain()
    challenge_request = receiver.requests[-1]
    challenge_body = json.loads(challenge_request.content)
    assert challenge_body["type"] == "webhooks.verification"
    assert "x-ramp-webhook-id" not in challenge_request.headers
    verified = await http.post(
        f"/developer/v1/webhooks/{subscription['id']}/verify",
        headers=headers,
        json={"challenge": challenge_body["challenge"]},
    )
    assert verified.json() == {"success": True}
    return subscription


async def test_subscribe_challenge_verify_then_signed_delivery(
    http: httpx2.AsyncClient,
    headers: dict[str, str],
    world: RampWorld,
    receiver: Receiver,
) -> None:
    owner_id = (await http.get("/developer/v1/users", headers=headers)).json()["data"][0]["id"]
    entity = (await http.get("/developer/v1/entities", headers=headers)).json()["data"][0]
    vendor = await create_vendor(http, headers, owner_id)
    pending = await http.post(
        "/developer/v1/webhooks",
        headers=headers,
        json={"endpoint_url": "https://other.example/hook", "event_types": ["bills.created"]},
    )
    assert pending.status_code == 201
    subscription = await _subscribe_and_verify(http, headers, world, receiver)
    listed = (await http.get("/developer/v1/webhooks", headers=headers)).json()
    assert {s["status"] for s in listed} == {"active", "pending_verification"}
    assert all("secret" not in s for s in listed)
    receiver.requests.clear()
    bill = (
        await http.post(
            "/developer/v1/bills", headers=headers, json=bill_body(vendor, entity["id"])
        )
    ).json()
    await world.webhooks.drain()
    # Only the verified subscription gets events; the pending one got its challenge only.
    deliveries = [r for r in receiver.requests if r.url.host == "connector.example"]
    assert len(deliveries) == 1
    delivery = deliveries[0]
    payload = json.loads(delivery.content)
    assert payload["type"] == "bills.created"
    assert payload["object"] == {"id": bill["id"]}
    assert delivery.headers["x-ramp-webhook-id"] == payload["id"]
    assert delivery.headers["x-tenant"] == "northbeam"
    expected = hmac.new(
        subscription["secret"].encode(), delivery.content, hashlib.sha256
    ).hexdigest()
    assert delivery.headers["x-ramp-signature"] == expected


async def test_signature_header_and_encoding_are_switches(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld, receiver: Receiver
) -> None:
    world.set_quirks(signature_header="X-Ramp-Webhook-Signature", signature_encoding="base64")
    subscription = await _subscribe_and_verify(http, headers, world, receiver)
    request = receiver.requests[-1]
    assert "x-ramp-signature" not in request.headers
    mac = hmac.new(subscription["secret"].encode(), request.content, hashlib.sha256).digest()
    assert request.headers["x-ramp-webhook-signature"] == base64.b64encode(mac).decode()


async def test_retries_on_5xx_with_backoff_until_success(
    http: httpx2.AsyncClient,
    headers: dict[str, str],
    world: RampWorld,
    receiver: Receiver,
    clock: EmulatorClock,
) -> None:
    subscription = await _subscribe_and_verify(http, headers, world, receiver)
    receiver.requests.clear()
    receiver.statuses = [503, 429]
    mock = await http.post(
        "/developer/v1/webhooks/mock-webhook-event",
        headers=headers,
        json={"event_type": "bills.paid", "object_id": "6e3816e3-0e53-42ae-b075-bdb0adff10c4"},
    )
    assert mock.status_code == 201
    await world.webhooks.drain()
    await world.webhooks.drain()  # nothing is due again until the backoff passes
    assert len(receiver.requests) == 1
    for _ in range(2):
        clock.advance(60)
        await world.webhooks.drain()
    assert len(receiver.requests) == 3
    assert len({r.content for r in receiver.requests}) == 1  # same id and body on retries
    assert receiver.requests[0].headers["x-ramp-signature"] == sign(
        subscription["secret"], receiver.requests[0].content
    )


async def test_4xx_is_not_retried_and_10_attempts_at_most(
    http: httpx2.AsyncClient,
    headers: dict[str, str],
    world: RampWorld,
    receiver: Receiver,
    clock: EmulatorClock,
) -> None:
    await _subscribe_and_verify(http, headers, world, receiver)
    receiver.requests.clear()
    receiver.statuses = [404]
    world.webhooks.emit(world.test_business_id, "bills.created", "b1")
    await world.webhooks.drain()
    clock.advance(600)
    await world.webhooks.drain()
    assert len(receiver.requests) == 1
    receiver.statuses = [500] * 20
    world.webhooks.emit(world.test_business_id, "bills.created", "b2")
    for _ in range(15):
        await world.webhooks.drain()
        clock.advance(60)
    assert len(receiver.requests) == 1 + 10
    states = [d["state"] for d in (await http.get("/_sandbox/webhooks/deliveries")).json()]
    assert states.count("failed") == 2


async def test_subscribing_needs_the_event_read_scope(
    http: httpx2.AsyncClient, creds: dict[str, Any]
) -> None:
    from ramp_contract_helpers import get_token

    token = await get_token(http, creds, scope="vendors:read")
    response = await http.post(
        "/developer/v1/webhooks",
        headers={"Authorization": f"Bearer {token}"},
        json={"endpoint_url": "https://connector.example/h", "event_types": ["bills.created"]},
    )
    assert response.status_code == 403
    assert response.json()["error_v2"]["error_code"] == "DEVELOPER_7100"


async def test_delete_subscription(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld, receiver: Receiver
) -> None:
    subscription = await _subscribe_and_verify(http, headers, world, receiver)
    gone = await http.delete(f"/developer/v1/webhooks/{subscription['id']}", headers=headers)
    assert gone.status_code == 204
    assert (
        await http.get(f"/developer/v1/webhooks/{subscription['id']}", headers=headers)
    ).status_code == 404
