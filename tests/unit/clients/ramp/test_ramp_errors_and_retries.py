from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx2
import pytest
from ramp_fakes import FakeRamp, page, ramp_error

from ml_connector.clients.ramp import RampClient, RequestNotSentError
from ml_connector.clients.ramp.errors import classify_response, missing_scopes_in
from ml_connector.clients.ramp.models import BillCreate, BillLineItemCreate
from ml_connector.clients.ramp.requester import retry_backoff
from ml_connector.core.clock import FixedClock
from ml_connector.core.errors import (
    ApiError,
    ApiValidationError,
    AuthError,
    InvalidGrantError,
    MissingScopeError,
    NotFoundError,
    RateLimitedError,
    TransientApiError,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _classify(
    response: httpx2.Response, method: str = "GET", path: str = "/developer/v1/bills"
) -> ApiError | None:
    response.request = httpx2.Request(method, f"https://api.ramp.com{path}")
    return classify_response(response, now=NOW)


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (httpx2.Response(200, json={}), type(None), None),
        (httpx2.Response(429, headers={"Retry-After": "7"}), RateLimitedError, None),
        (httpx2.Response(500, text="<html>oops</html>"), TransientApiError, None),
        (httpx2.Response(504), TransientApiError, None),
        (httpx2.Response(401, json={"error": "invalid_token"}), AuthError, "invalid_token"),
        (
            ramp_error(
                403, "DEVELOPER_7100", "These scopes are not allowed for this client: bills:write"
            ),
            MissingScopeError,
            "DEVELOPER_7100",
        ),
        (ramp_error(403, "DEVELOPER_7000", "Forbidden"), AuthError, "DEVELOPER_7000"),
        (ramp_error(404, "DEVELOPER_7002", "Object not found"), NotFoundError, "DEVELOPER_7002"),
        (httpx2.Response(404, text="Not Found"), NotFoundError, None),
        (
            ramp_error(422, "DEVELOPER_7001", "Unknown field.", visible=["Unknown field."]),
            ApiValidationError,
            "DEVELOPER_7001",
        ),
        (
            ramp_error(409, "DEVELOPER_7153", "A draft bill with this remote ID already exists"),
            ApiValidationError,
            "DEVELOPER_7153",
        ),
        (
            ramp_error(400, "DEVELOPER_7080", "State is required for US"),
            ApiValidationError,
            "DEVELOPER_7080",
        ),
        (httpx2.Response(400, json={"error": "invalid_grant"}), InvalidGrantError, "invalid_grant"),
        (httpx2.Response(400, json={"error": "invalid_scope"}), MissingScopeError, "invalid_scope"),
        (httpx2.Response(401, json={"error": "invalid_client"}), AuthError, "invalid_client"),
    ],
)
def test_classification_by_status_and_code(
    response: httpx2.Response, kind: type, code: str | None
) -> None:
    error = _classify(response)
    assert type(error) is kind
    if error is not None:
        assert error.system == "ramp"
        assert error.status == response.status_code
        assert error.code == code


def test_rate_limit_carries_retry_after() -> None:
    error = _classify(httpx2.Response(429, headers={"Retry-After": "7"}))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0


def test_validation_detail_names_the_field_and_the_call() -> None:
    error = _classify(
        ramp_error(422, "DEVELOPER_7001", "Unknown field.", visible=["Unknown field."]),
        method="POST",
        path="/developer/v1/accounting/accounts",
    )
    assert error is not None
    assert error.detail == "Unknown field. (visible: Unknown field.)"
    assert str(error).startswith(
        "Ramp POST /developer/v1/accounting/accounts failed with HTTP 422 DEVELOPER_7001"
    )


def test_missing_scope_names_are_read_from_the_message() -> None:
    assert missing_scopes_in("These scopes are not allowed for this client: bills:write") == [
        "bills:write"
    ]
    assert missing_scopes_in("not allowed for this client: a:read, b:write") == [
        "a:read",
        "b:write",
    ]
    assert missing_scopes_in("something else") == []


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (RateLimitedError("x", system="ramp", retry_after=7.0), False, 7.0),
        (RateLimitedError("x", system="ramp", retry_after=None), False, True),
        (RateLimitedError("x", system="ramp", retry_after=600.0), True, False),
        (TransientApiError("x", system="ramp", status=503), True, True),
        (TransientApiError("x", system="ramp", status=503, retry_after=3.0), True, 3.0),
        (TransientApiError("x", system="ramp", status=503), False, False),
        (RequestNotSentError("x", system="ramp"), False, True),
        (ApiValidationError("x", system="ramp", status=422), True, False),
        (ValueError("not ours"), True, False),
    ],
)
def test_retry_backoff_rules(error: Exception, idempotent: bool, expected: bool | float) -> None:
    assert retry_backoff(error, idempotent=idempotent, max_retry_after=60.0) == expected


def _bill() -> BillCreate:
    return BillCreate(
        vendor_id="v1",
        vendor_contact_id="c1",
        entity_id="e1",
        invoice_number="FB-1",
        invoice_currency="USD",
        issued_at=date(2026, 11, 1),
        due_at=date(2026, 12, 1),
        payment_method="ACH",
        remote_id="freshbooks:bill:1",
        line_items=[BillLineItemCreate(amount=Decimal("10.00"))],
    )


BILL_JSON = {
    "id": "b1",
    "remote_id": "freshbooks:bill:1",
    "amount": {"amount": 1000, "currency_code": "USD"},
    "status": "OPEN",
}


@pytest.mark.anyio
async def test_get_is_retried_through_5xx(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    answers = iter([httpx2.Response(503), httpx2.Response(500)])
    fake.route("GET", "bills/b1")(
        lambda r: next(answers, None) or httpx2.Response(200, json=BILL_JSON)
    )
    async with make_client() as client:
        bill = await client.bills.get("b1")
    assert bill.id == "b1"
    assert len(fake.api_requests()) == 3


@pytest.mark.anyio
async def test_bill_create_is_never_resent_after_a_5xx(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("POST", "bills")(lambda r: httpx2.Response(502))
    async with make_client() as client:
        with pytest.raises(TransientApiError) as caught:
            await client.bills.create(_bill())
    assert not isinstance(caught.value, RequestNotSentError)
    assert len(fake.api_requests()) == 1


@pytest.mark.anyio
async def test_bill_create_whose_response_is_lost_surfaces_outcome_unknown(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def drop(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadError("connection reset", request=request)

    fake.route("POST", "bills")(drop)
    async with make_client() as client:
        with pytest.raises(TransientApiError, match="outcome is unknown"):
            await client.bills.create(_bill())
    assert len(fake.api_requests()) == 1


@pytest.mark.anyio
async def test_bill_create_is_retried_after_429_and_connect_errors(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    calls = 0

    def flaky(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx2.Response(429, headers={"Retry-After": "1"})
        if calls == 2:
            raise httpx2.ConnectError("refused", request=request)
        return httpx2.Response(201, json=BILL_JSON)

    fake.route("POST", "bills")(flaky)
    async with make_client() as client:
        bill = await client.bills.create(_bill())
    assert bill.remote_id == "freshbooks:bill:1"
    assert calls == 3


@pytest.mark.anyio
async def test_a_long_retry_after_is_left_to_the_job_queue(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "bills/b1")(lambda r: httpx2.Response(429, headers={"Retry-After": "600"}))
    async with make_client() as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.bills.get("b1")
    assert caught.value.retry_after == 600.0
    assert len(fake.api_requests()) == 1


@pytest.mark.anyio
async def test_429_storm_gives_up_after_the_allowed_attempts(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "departments")(lambda r: httpx2.Response(429, headers={"Retry-After": "2"}))
    async with make_client() as client:
        with pytest.raises(RateLimitedError):
            await client.departments.list().__anext__()
    assert len(fake.api_requests()) == 4


@pytest.mark.anyio
async def test_validation_errors_are_not_retried(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "departments")(
        lambda r: ramp_error(422, "DEVELOPER_7001", "Value must be between 2 and 100")
    )
    async with make_client() as client:
        with pytest.raises(ApiValidationError, match="between 2 and 100"):
            await client.departments.list().__anext__()
    assert len(fake.api_requests()) == 1


@pytest.mark.anyio
async def test_non_json_success_body_is_reported(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "bills/b1")(lambda r: httpx2.Response(200, text="<html>"))
    async with make_client() as client:
        with pytest.raises(Exception, match="not JSON"):
            await client.bills.get("b1")


@pytest.mark.anyio
async def test_unreadable_object_names_fields_not_values(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "departments")(lambda r: page([{"id": "d1", "name": None}]))
    async with make_client() as client:
        with pytest.raises(Exception, match=r"department this client cannot read \(fields: name\)"):
            await client.departments.list().__anext__()


@pytest.mark.anyio
async def test_retry_after_is_honoured_before_the_retry(
    fake: FakeRamp, make_client: Callable[..., RampClient], clock: FixedClock
) -> None:
    sent_at: list[datetime] = []
    answers = iter([httpx2.Response(429, headers={"Retry-After": "7"})])

    def bills(request: httpx2.Request) -> httpx2.Response:
        sent_at.append(clock())
        return next(answers, None) or httpx2.Response(200, json=BILL_JSON)

    fake.route("GET", "bills/b1")(bills)
    async with make_client() as client:
        await client.bills.get("b1")
    assert (sent_at[1] - sent_at[0]).total_seconds() >= 7.0


@pytest.mark.anyio
async def test_transport_failures_name_the_full_api_path(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    fake.route("GET", "bills/b1")(refuse)
    async with make_client() as client:
        with pytest.raises(RequestNotSentError, match=r"GET /developer/v1/bills/b1 was not sent"):
            await client.bills.get("b1")
    assert len(fake.api_requests()) == 4  # a request that was never sent is always retried
