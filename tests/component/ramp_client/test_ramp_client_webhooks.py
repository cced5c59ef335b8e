"""§12 item 9: subscribe, the challenge handshake, signed thin deliveries, list, delete."""

from __future__ import annotations

import pytest
from ramp_sandbox import Sandbox

from ml_connector.clients.ramp import VERIFICATION_EVENT, RampClient, parse_event
from ml_connector.core.errors import ApiValidationError, NotFoundError
from ml_connector.core.signatures.ramp import verify_delivery

pytestmark = pytest.mark.anyio

ENDPOINT = "https://connector.example/webhooks/ramp"


@pytest.mark.parametrize(
    ("header", "encoding"),
    [("X-Ramp-Signature", "hex"), ("X-Ramp-Webhook-Signature", "hex"), ("both", "base64")],
)
async def test_subscription_handshake_and_signed_delivery(
    client: RampClient, sandbox: Sandbox, header: str, encoding: str
) -> None:
    sandbox.world.set_quirks(signature_header=header, signature_encoding=encoding)
    subscription = await client.webhooks.subscribe(ENDPOINT, ["bills.created", "bills.paid"])
    assert subscription.status == "pending_verification"
    assert subscription.secret

    await sandbox.world.webhooks.drain()
    [challenge_request] = sandbox.receiver.deliveries
    raw = challenge_request.content
    assert verify_delivery(raw, dict(challenge_request.headers), [subscription.secret])
    assert not verify_delivery(raw, dict(challenge_request.headers), ["ramp_sec_someone_else"])
    event = parse_event(raw)
    assert event.type == VERIFICATION_EVENT
    assert event.challenge

    assert await client.webhooks.verify(subscription.id, event.challenge)
    [listed] = await client.webhooks.list()
    assert listed.id == subscription.id
    assert listed.is_active
    assert (await client.webhooks.get(subscription.id)).is_active

    await sandbox.post(
        "/_sandbox/webhooks/events", {"event_type": "bills.paid", "object_id": "bill-1"}
    )
    await sandbox.world.webhooks.drain()
    delivery = sandbox.receiver.deliveries[-1]
    assert verify_delivery(delivery.content, dict(delivery.headers), [subscription.secret])
    paid = parse_event(delivery.content)
    assert paid.type == "bills.paid"
    assert paid.object is not None
    assert paid.object.id == "bill-1"
    assert delivery.headers["X-Ramp-Webhook-ID"] == paid.id

    await client.webhooks.delete(subscription.id)
    assert await client.webhooks.list() == []
    with pytest.raises(NotFoundError):
        await client.webhooks.get(subscription.id)


async def test_a_wrong_challenge_is_refused(client: RampClient) -> None:
    subscription = await client.webhooks.subscribe(ENDPOINT, ["bills.created"])
    with pytest.raises(ApiValidationError):
        await client.webhooks.verify(subscription.id, "not-the-challenge")
    assert not (await client.webhooks.get(subscription.id)).is_active
