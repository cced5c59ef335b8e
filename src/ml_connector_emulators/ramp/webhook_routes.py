"""Webhook subscription endpoints (§9.1): subscribe, list (a bare array), get, delete,
verify, and the newer mock-event trigger.

Management needs only a valid token, but subscribing to an event needs the read scope of
its resource (`bills:read` for `bills.*`), refused with 403 `DEVELOPER_7100`.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.auth import Call, api
from ml_connector_emulators.ramp.conventions import (
    SCOPE_NOT_ALLOWED,
    ApiError,
    invalid,
    iso_datetime,
    json_response,
    not_found,
    read_json,
    schema_error,
)
from ml_connector_emulators.ramp.validation import (
    Field,
    list_of,
    one_of,
    string,
    string_map,
    url,
    uuid_string,
    validate_body,
)
from ml_connector_emulators.ramp.webhooks import EVENT_SCOPES, EVENT_TYPES, Subscription

_RESERVED_HEADER_PREFIXES = ("host", "user-agent", "x-forwarded", "x-real", "x-original")


def render_subscription(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "business_id": subscription.business_id,
        "endpoint_url": subscription.endpoint_url,
        "event_types": list(subscription.event_types),
        "additional_headers": dict(subscription.additional_headers),
        "status": subscription.status,
        "created_at": iso_datetime(subscription.created_at),
        "updated_at": iso_datetime(subscription.updated_at),
    }


def _require_event_scopes(call: Call, event_types: list[str]) -> None:
    client = call.business.clients[call.token.client_id]
    for event_type in event_types:
        scope = EVENT_SCOPES.get(event_type.split(".", 1)[0])
        if scope is not None and (
            scope not in call.token.scopes or scope not in client.allowed_scopes
        ):
            raise ApiError(
                403,
                SCOPE_NOT_ALLOWED,
                f"These scopes are not allowed for this client: {scope}",
                {"event_types": [event_type]},
            )


@api(None)
async def subscribe(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {
            "endpoint_url": Field(url, True),
            "event_types": Field(list_of(one_of(EVENT_TYPES), 1), True),
            "additional_headers": Field(string_map(5, 100, 1000), nullable=True),
        },
    )
    headers = body.get("additional_headers") or {}
    for name in headers:
        if name.lower().startswith(_RESERVED_HEADER_PREFIXES):
            raise schema_error("additional_headers", f"Header {name} is reserved.")
    _require_event_scopes(call, body["event_types"])
    world = call.world
    subscription = world.webhooks.subscribe(
        business_id=call.business.id,
        endpoint_url=body["endpoint_url"],
        event_types=body["event_types"],
        additional_headers=headers,
        secret=world.new_secret("ramp_sec_", 32),
        challenge=world.new_secret("", 40),
    )
    answer = render_subscription(subscription)
    answer["secret"] = subscription.secret
    return json_response(answer, 201)


@api(None)
async def list_subscriptions(call: Call) -> Response:
    # A bare array, not the paged envelope (§3.1 exception).
    return json_response(
        [render_subscription(s) for s in call.world.webhooks.of_business(call.business.id)]
    )


def subscription_of(call: Call) -> Subscription:
    subscription = call.world.webhooks.subscriptions.get(call.param("webhook_id"))
    if subscription is None or subscription.business_id != call.business.id:
        raise not_found("Webhook")
    return subscription


@api(None)
async def get_subscription(call: Call) -> Response:
    return json_response(render_subscription(subscription_of(call)))


@api(None)
async def delete_subscription(call: Call) -> Response:
    call.world.webhooks.unsubscribe(subscription_of(call))
    return Response(status_code=204)


@api(None)
async def verify_subscription(call: Call) -> Response:
    subscription = subscription_of(call)
    body = validate_body(await read_json(call.request), {"challenge": Field(string(1000, 1), True)})
    if not call.world.webhooks.verify(subscription, body["challenge"]):
        raise invalid("The challenge does not match.", "challenge")
    return json_response({"success": True})


@api(None)
async def mock_event(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {
            "event_type": Field(one_of(EVENT_TYPES), True),
            "object_id": Field(uuid_string, True),
            "object_metadata": Field(lambda value: value, nullable=True),
        },
    )
    metadata = body.get("object_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise schema_error("object_metadata", "Not a valid mapping type.")
    payload = call.world.webhooks.emit(
        call.business.id, body["event_type"], body["object_id"], metadata
    )
    return json_response(payload, 201)


ROUTES = [
    Route("/developer/v1/webhooks", list_subscriptions, methods=["GET"]),
    Route("/developer/v1/webhooks", subscribe, methods=["POST"]),
    Route("/developer/v1/webhooks/mock-webhook-event", mock_event, methods=["POST"]),
    Route("/developer/v1/webhooks/{webhook_id}", get_subscription, methods=["GET"]),
    Route("/developer/v1/webhooks/{webhook_id}", delete_subscription, methods=["DELETE"]),
    Route("/developer/v1/webhooks/{webhook_id}/verify", verify_subscription, methods=["POST"]),
]
