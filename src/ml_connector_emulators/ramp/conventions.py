"""Conventions every Ramp route shares: the `error_v2` envelope, JSON bodies, keyset pages.

Errors carry both `error_v2` (code, message, marshmallow-style `additional_info`, notes)
and the legacy `error` map, as Ramp's error-handling docs show. Lists answer
`{"data": [...], "page": {"next": <full URL or null>}}` where `next` repeats the caller's
query with `start` set to the last id of the page (reference §3.1).

Error codes Ramp documents are used where they apply; where Ramp's code is unknown the
emulator uses a descriptive code of its own (listed below) so nobody mistakes it for a
documented one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

# Documented by Ramp (reference §3.3).
SCHEMA_INVALID = "DEVELOPER_7001"
NOT_FOUND = "DEVELOPER_7002"
SCOPE_NOT_ALLOWED = "DEVELOPER_7100"
STATE_REQUIRED_FOR_US = "DEVELOPER_7080"
BAD_FIELD = "DEVELOPER_7122"
BAD_FIELD_OPTION = "DEVELOPER_7123"
SPLIT_MISMATCH = "ACCOUNTING_7008"
# The emulator's own (Ramp's real code for these cases is not documented).
INVALID_REQUEST = "EMULATOR_INVALID_REQUEST"
UNAUTHORIZED = "EMULATOR_UNAUTHORIZED"
RATE_LIMITED = "EMULATOR_RATE_LIMITED"
CONFLICT = "EMULATOR_CONFLICT"
SERVER_ERROR = "EMULATOR_SERVER_ERROR"

DEFAULT_PAGE_SIZE = 20
MIN_PAGE_SIZE = 2
MAX_PAGE_SIZE = 100

T = TypeVar("T")


class ApiError(Exception):
    """An error answer in Ramp's envelope; raised anywhere below a route, rendered once."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        additional_info: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.additional_info = dict(additional_info or {})
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {
            "error_v2": {
                "error_code": self.code,
                "additional_info": self.additional_info,
                "notes": "",
                "message": self.message,
            },
            "error": self.additional_info or {"message": [self.message]},
        }
        return json_response(body, self.status, headers=self.headers)


def not_found(kind: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"{kind} not found.")


def invalid(message: str, field: str | None = None, status: int = 400) -> ApiError:
    info = {field: [message]} if field else {}
    return ApiError(status, INVALID_REQUEST, message, info)


def schema_error(field: str, message: str) -> ApiError:
    return ApiError(422, SCHEMA_INVALID, message, {field: [message]})


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type="application/json")


def dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes) -> object:
    """Parse a JSON body keeping every non-integer number as an exact `Decimal`."""
    return json.loads(raw, parse_float=Decimal)


async def read_json(request: Request) -> object:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400,
            INVALID_REQUEST,
            "The request body is not valid JSON.",
            {"_schema": ["FieldError JSON."]},
        ) from exc


def iso_datetime(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def iso_date_as_datetime(day: date | None) -> str | None:
    """Ramp answers request dates as midnight-UTC date-times (`2025-05-01T00:00:00+00:00`)."""
    return None if day is None else f"{day.isoformat()}T00:00:00+00:00"


def page_size_of(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    message = f"Value must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}"
    try:
        size = int(raw)
    except ValueError as exc:
        raise schema_error("page_size", "Not a valid integer.") from exc
    if not MIN_PAGE_SIZE <= size <= MAX_PAGE_SIZE:
        raise schema_error("page_size", message)
    return size


def paginate(
    request: Request,
    items: Sequence[T],
    render: Callable[[T], object],
    id_of: Callable[[T], str],
    public_url: str,
) -> Response:
    """One keyset page of `items` (already filtered and ordered) in Ramp's list envelope."""
    size = page_size_of(request)
    start = request.query_params.get("start")
    offset = 0
    if start:
        # Stops at `start`: a page costs what lies before it, not a list of every id.
        found = next((n for n, item in enumerate(items) if id_of(item) == start), None)
        if found is None:
            raise schema_error("start", "Not a valid starting point for this list.")
        offset = found + 1
    page = items[offset : offset + size]
    next_url = None
    if page and offset + size < len(items):
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "start"]
        params.append(("start", id_of(page[-1])))
        next_url = f"{public_url.rstrip('/')}{request.url.path}?{urlencode(params)}"
    return json_response({"data": [render(item) for item in page], "page": {"next": next_url}})
