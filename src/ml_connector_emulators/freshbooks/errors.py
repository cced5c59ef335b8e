"""Error bodies exactly as each FreshBooks API family shapes them.

The families disagree: accounting wraps `errors[]` (with `errno`) in `response`, the
events family answers a flat `{errno, message, details}`, the auth host uses OAuth-style
`{error, error_description}` and the ledger family nests `errors.details[]`. Handlers
raise `ApiError` with a ready response; the app turns it into that response.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from starlette.responses import JSONResponse, Response


class Family(Enum):
    ACCOUNTING = "accounting"
    EVENTS = "events"
    AUTH = "auth"
    LEDGER = "ledger"


class ApiError(Exception):
    """Raised by a handler to answer with `response` (an error in its family's shape)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


UNAUTHORIZED_MESSAGE = (
    "The server could not verify that you are authorized to access the URL requested."
)


def accounting_error(
    status: int,
    errno: int,
    message: str,
    *,
    field: str | None = None,
    object_name: str | None = None,
    value: Any = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    error: dict[str, Any] = {"errno": errno, "message": message}
    if field is not None:
        error["field"] = field
    if object_name is not None:
        error["object"] = object_name
    if value is not None:
        error["value"] = str(value)
    return ApiError(JSONResponse({"response": {"errors": [error]}}, status, headers=headers))


def not_found(object_name: str, field: str, value: Any) -> ApiError:
    label = object_name.replace("_", " ").capitalize()
    return accounting_error(
        404, 1012, f"{label} not found.", field=field, object_name=object_name, value=value
    )


def required(object_name: str, field: str) -> ApiError:
    return accounting_error(
        422, 1001, f"Field {field} is required.", field=field, object_name=object_name
    )


def invalid(object_name: str, field: str, value: Any, why: str) -> ApiError:
    return accounting_error(
        422,
        1004,
        f"Invalid value for field {field}: {why}.",
        field=field,
        object_name=object_name,
        value=value,
    )


def events_error(status: int, message: str, details: list[str] | None = None) -> ApiError:
    body: dict[str, Any] = {"errno": status, "message": message}
    if details is not None:
        body["details"] = details
    return ApiError(JSONResponse(body, status))


def auth_error(status: int, error: str, description: str) -> ApiError:
    return ApiError(JSONResponse({"error": error, "error_description": description}, status))


def ledger_error(status: int, reason: str, field: str | None = None) -> ApiError:
    body = {
        "errors": {
            "message": f"Request failed with status code {status}",
            "status": status,
            "details": [{"reason": reason, "metadata": {"message": reason, "field": field}}],
        }
    }
    return ApiError(JSONResponse(body, status))


def unauthenticated(family: Family) -> ApiError:
    """What an unknown, expired or revoked access token gets, per family."""
    if family is Family.ACCOUNTING:
        return accounting_error(401, 1003, UNAUTHORIZED_MESSAGE)
    if family is Family.EVENTS:
        return events_error(
            401, "invalid_token: The request token failed to authenticate or validate."
        )
    if family is Family.LEDGER:
        return ledger_error(401, "Unauthenticated.")
    return auth_error(401, "unauthenticated", "This action requires authentication to continue.")


def forbidden(family: Family, message: str) -> ApiError:
    if family is Family.ACCOUNTING:
        return accounting_error(403, 1003, message)
    if family is Family.EVENTS:
        return events_error(403, message)
    if family is Family.LEDGER:
        return ledger_error(403, message)
    return auth_error(403, "forbidden", message)


def family_of(path: str) -> Family:
    if path.startswith("/events/"):
        return Family.EVENTS
    if path.startswith("/accounting/businesses/"):
        return Family.LEDGER
    if path.startswith("/accounting/"):
        return Family.ACCOUNTING
    return Family.AUTH


def family_status_error(family: Family, status: int, message: str) -> ApiError:
    """A generic non-validation failure (429, 5xx) dressed in the family's shape."""
    if family is Family.ACCOUNTING:
        return accounting_error(status, status, message)
    if family is Family.EVENTS:
        return events_error(status, message)
    if family is Family.LEDGER:
        return ledger_error(status, message)
    return auth_error(status, "server_error" if status >= 500 else "rate_limited", message)


__all__ = [
    "ApiError",
    "Family",
    "accounting_error",
    "auth_error",
    "events_error",
    "family_of",
    "family_status_error",
    "forbidden",
    "invalid",
    "ledger_error",
    "not_found",
    "required",
    "unauthenticated",
]
