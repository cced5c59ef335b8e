"""Classification of every FreshBooks error shape into the core error tree."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from fbclient_helpers import T0, MakeClient, envelope, tokens

from ml_connector.clients.freshbooks import FeatureUnavailableError
from ml_connector.clients.freshbooks.errors import classify, vendor_error
from ml_connector.core.errors import (
    ApiError,
    ApiValidationError,
    AuthError,
    InvalidGrantError,
    MissingScopeError,
    NotFoundError,
    RateLimitedError,
    RetriableError,
    TransientApiError,
)


def _classify(status: int, body: Any, headers: dict[str, str] | None = None) -> ApiError | None:
    return classify(status=status, body=body, headers=headers or {}, now=T0, what="GET /x")


def accounting(errno: int, message: str = "m", **extra: Any) -> dict[str, Any]:
    return {"response": {"errors": [{"errno": errno, "message": message, **extra}]}}


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (404, accounting(1012, "Client not found.", field="userid"), NotFoundError, "1012"),
        (401, accounting(1003), AuthError, "1003"),
        (422, accounting(1001, "required", field="vendorid"), ApiValidationError, "1001"),
        (400, accounting(1014, "InvalidPage"), ApiValidationError, "1014"),
        (409, accounting(409, "Conflict"), TransientApiError, "409"),
        (500, accounting(500, "FreshAlchemyUnexpected"), TransientApiError, "500"),
        (200, accounting(41001, "Bills not enabled"), FeatureUnavailableError, "41001"),
        (200, accounting(31001), FeatureUnavailableError, "31001"),
        (200, accounting(41101), FeatureUnavailableError, "41101"),
        (200, accounting(1012), NotFoundError, "1012"),
        (200, accounting(1003), AuthError, "1003"),
        (403, {"response": {"errors": [{"message": "Permission Denied"}]}}, AuthError, None),
        (
            404,
            {"errno": 404, "message": "Requested resource could not be found."},
            NotFoundError,
            "404",
        ),
        (401, {"errno": 401, "message": "invalid_token: failed"}, AuthError, "401"),
        (
            422,
            {
                "errno": 422,
                "message": "semantic errors",
                "details": ["event: Value error, Unrecognized event."],
            },
            ApiValidationError,
            "422",
        ),
        (
            401,
            {"error": "unauthenticated", "error_description": "requires auth"},
            AuthError,
            "unauthenticated",
        ),
        (
            400,
            {"error": "invalid_grant", "error_description": "reused"},
            InvalidGrantError,
            "invalid_grant",
        ),
        (
            403,
            {"error": "insufficient_scope", "error_description": "needs user:bills:read"},
            MissingScopeError,
            "insufficient_scope",
        ),
        (
            404,
            {
                "errors": {
                    "message": "Request failed with status code 404",
                    "status": 404,
                    "details": [{"reason": "Not found."}],
                }
            },
            NotFoundError,
            "404",
        ),
        (
            404,
            {
                "code": 5,
                "message": "gone",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "1012"}
                ],
            },
            NotFoundError,
            "1012",
        ),
        (502, None, TransientApiError, None),
        (503, {"unexpected": True}, TransientApiError, None),
        (408, None, TransientApiError, None),
        (418, None, ApiValidationError, None),
        (404, None, NotFoundError, None),
        (
            422,
            accounting(1012, "Bill vendor not found.", field="vendorid"),
            ApiValidationError,
            "1012",
        ),
    ],
)
def test_classification(status: int, body: Any, expected: type[ApiError], code: str | None) -> None:
    error = _classify(status, body)
    assert type(error) is expected
    assert error is not None
    assert error.status == status
    assert error.code == code
    assert error.system == "freshbooks"


def test_success_bodies_are_not_errors() -> None:
    assert _classify(200, envelope(bill={"id": 1})) is None
    assert _classify(204, None) is None
    assert _classify(200, {"response": {"errors": []}, "result": {}}) is None


def test_rate_limit_carries_retry_after() -> None:
    error = _classify(429, {"message": "slow down"}, {"retry-after": "57"})
    assert isinstance(error, RateLimitedError)
    assert isinstance(error, RetriableError)
    assert error.retry_after == 57.0


def test_rate_limit_with_http_date_retry_after() -> None:
    error = _classify(429, None, {"retry-after": "Fri, 27 Nov 2026 12:01:00 GMT"})
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 60.0


def test_503_keeps_retry_after() -> None:
    error = _classify(503, None, {"retry-after": "5"})
    assert isinstance(error, TransientApiError)
    assert error.retry_after == 5.0


def test_field_is_named_in_detail() -> None:
    error = vendor_error(accounting(1001, "Required", field="vendorid"))
    assert error is not None
    assert error.message == "Required (field vendorid)"


def test_echoed_secrets_are_redacted() -> None:
    error = classify(
        status=400,
        body={"error": "invalid_grant", "error_description": "refresh token r-secret-1 was used"},
        headers={},
        now=T0,
        what="POST /auth/oauth/token",
        secrets=("r-secret-1", ""),
    )
    assert error is not None
    assert "r-secret-1" not in str(error)
    assert "[redacted]" in (error.detail or "")


@pytest.mark.anyio
async def test_200_with_errors_is_raised_not_returned(make_client: MakeClient) -> None:
    client = await make_client(
        lambda r: httpx2.Response(200, json=accounting(41001, "Bills are not enabled")),
        stored=tokens(0),
    )
    with pytest.raises(FeatureUnavailableError) as info:
        await client.bills("ABC123").get(1)
    assert info.value.code == "41001"


@pytest.mark.anyio
async def test_malformed_json_on_200_is_transient(make_client: MakeClient) -> None:
    client = await make_client(
        lambda r: httpx2.Response(200, content=b'{"response": {"res'), stored=tokens(0)
    )
    with pytest.raises(TransientApiError, match="not JSON"):
        await client.bills("ABC123").get(1)


@pytest.mark.anyio
async def test_html_502_is_transient(make_client: MakeClient) -> None:
    client = await make_client(
        lambda r: httpx2.Response(502, content=b"<html>Bad gateway</html>"), stored=tokens(0)
    )
    with pytest.raises(TransientApiError) as info:
        await client.bills("ABC123").get(1)
    assert info.value.status == 502


@pytest.mark.anyio
async def test_429_from_client_call(make_client: MakeClient) -> None:
    client = await make_client(
        lambda r: httpx2.Response(429, headers={"Retry-After": "60"}, json={}), stored=tokens(0)
    )
    with pytest.raises(RateLimitedError) as info:
        await client.expenses("ABC123").get(1)
    assert info.value.retry_after == 60.0


@pytest.mark.anyio
async def test_dropped_connection_is_transient(make_client: MakeClient) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.RemoteProtocolError("peer closed", request=request)

    client = await make_client(handler, stored=tokens(0))
    with pytest.raises(TransientApiError, match="did not complete"):
        await client.bills("ABC123").create({"vendorid": 1})


@pytest.mark.anyio
async def test_envelope_without_result_is_transient(make_client: MakeClient) -> None:
    client = await make_client(
        lambda r: httpx2.Response(200, json={"response": {}}), stored=tokens(0)
    )
    with pytest.raises(TransientApiError, match=r"response\.result"):
        await client.bills("ABC123").get(1)


@pytest.mark.anyio
async def test_access_token_never_appears_in_errors(make_client: MakeClient) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            422, json=accounting(1004, "bad", value=request.headers["Authorization"])
        )

    client = await make_client(handler, stored=tokens(0))
    with pytest.raises(ApiValidationError) as info:
        await client.bills("ABC123").update(1, {"bill_number": "x"})
    assert "access-0" not in str(info.value)
