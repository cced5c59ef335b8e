"""Webhook subscriptions (`/webhooks`) and reading deliveries once their signature is checked.

A new subscription starts `pending_verification`: Ramp POSTs a `challenge` to the
endpoint, and the subscription becomes active when we send that challenge back with
`verify`. The signature itself is checked by the pure `core.signatures.ramp` module on
the raw body, before anything here parses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ml_connector.clients.ramp.errors import SYSTEM, UnexpectedResponseError
from ml_connector.clients.ramp.models import (
    WebhookEvent,
    WebhookSubscription,
    WebhookSubscriptionCreate,
    WebhookSubscriptionWithSecret,
)
from ml_connector.clients.ramp.paths import seg
from ml_connector.clients.ramp.requester import Requester, parse_as

VERIFICATION_EVENT = "webhooks.verification"


def parse_event(body: bytes) -> WebhookEvent:
    """A delivery's envelope (`id`, `type`, `object.id`, and `challenge` on verification)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UnexpectedResponseError("Ramp webhook body is not JSON", system=SYSTEM) from exc
    return parse_as(WebhookEvent, data, what="webhook delivery")


class WebhooksApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    async def subscribe(
        self,
        endpoint_url: str,
        event_types: Sequence[str],
        *,
        additional_headers: Mapping[str, str] | None = None,
    ) -> WebhookSubscriptionWithSecret:
        """Create a subscription; the response carries the signing `secret` (only here).

        Not retried after an unknown outcome: list subscriptions to find one that
        may have been created before subscribing again.
        """
        body = WebhookSubscriptionCreate(
            endpoint_url=endpoint_url,
            event_types=list(event_types),
            additional_headers=dict(additional_headers) if additional_headers else None,
        ).wire()
        return await self._r.call(
            "POST",
            "webhooks",
            WebhookSubscriptionWithSecret,
            what="webhook subscription",
            json_body=body,
            idempotent=False,
        )

    async def verify(self, webhook_id: str, challenge: str) -> bool:
        """Send back the challenge Ramp delivered; True when Ramp accepted it."""
        body = await self._r.request(
            "POST",
            f"webhooks/{seg(webhook_id)}/verify",
            json_body={"challenge": challenge},
            idempotent=True,
        )
        return bool(isinstance(body, dict) and body.get("success"))

    async def list(self) -> list[WebhookSubscription]:
        """All subscriptions. Unlike other lists, Ramp returns a bare JSON array here."""
        body = await self._r.request("GET", "webhooks")
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            body = body["data"]  # tolerate the usual envelope should Ramp adopt it
        if not isinstance(body, list):
            raise UnexpectedResponseError("Ramp GET /webhooks did not return a list", system=SYSTEM)
        return [parse_as(WebhookSubscription, item, what="webhook subscription") for item in body]

    async def get(self, webhook_id: str) -> WebhookSubscription:
        return await self._r.call(
            "GET", f"webhooks/{seg(webhook_id)}", WebhookSubscription, what="webhook subscription"
        )

    async def delete(self, webhook_id: str) -> None:
        await self._r.request("DELETE", f"webhooks/{seg(webhook_id)}", idempotent=True)


__all__ = ["VERIFICATION_EVENT", "WebhooksApi", "parse_event"]
