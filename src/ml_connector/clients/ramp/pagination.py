"""Ramp's keyset pagination: `{"data": [...], "page": {"next": <full URL | null>}}`.

`next` is followed as Ramp wrote it (its query carries the cursor and every filter), but
only its path and query: the request goes to the configured base URL, so a bearer token
is never sent to a host that merely appeared in a response body. A cursor seen before
means the listing would never end, and is an error rather than a hang.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ml_connector.clients.ramp.errors import SYSTEM, PaginationError, UnexpectedResponseError

MIN_PAGE_SIZE = 2
MAX_PAGE_SIZE = 100

Fetch = Callable[[str, Mapping[str, Any] | None], Awaitable[Any]]
"""GET a path relative to the API root (e.g. "bills?start=…") with optional query params."""


def page_size_param(page_size: int) -> int:
    """Ramp answers 422 outside 2..100; say so before sending."""
    if not MIN_PAGE_SIZE <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"Ramp page_size must be {MIN_PAGE_SIZE}..{MAX_PAGE_SIZE}")
    return page_size


def parse_page(body: Any, *, path: str) -> tuple[list[Any], str | None]:
    """The items and the `next` URL of one page, checking the envelope's shape."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UnexpectedResponseError(
            f"Ramp GET {path} did not return a list envelope", system=SYSTEM
        )
    page = body.get("page")
    following = page.get("next") if isinstance(page, dict) else None
    if following is not None and not isinstance(following, str):
        raise UnexpectedResponseError(f"Ramp GET {path} returned a bad page.next", system=SYSTEM)
    return body["data"], following or None


def next_target(next_url: str, *, api_path: str) -> str:
    """`next_url` as a target relative to the API root; it must stay under `api_path`."""
    parts = urlsplit(next_url)
    prefix = api_path.rstrip("/") + "/"
    if not parts.path.startswith(prefix) or len(parts.path) == len(prefix):
        raise PaginationError(
            f"Ramp page.next points outside {api_path}: {parts.path}", system=SYSTEM
        )
    relative = parts.path[len(prefix) :]
    return f"{relative}?{parts.query}" if parts.query else relative


async def paginate(
    fetch: Fetch,
    path: str,
    params: Mapping[str, Any],
    *,
    api_path: str,
) -> AsyncIterator[Any]:
    """Every item of a listing, page after page, until `page.next` is null."""
    body = await fetch(path, params)
    seen: set[str] = set()
    while True:
        items, following = parse_page(body, path=path)
        for item in items:
            yield item
        if following is None:
            return
        target = next_target(following, api_path=api_path)
        if target in seen:
            raise PaginationError(
                f"Ramp GET {path} pagination loops (cursor repeated)", system=SYSTEM
            )
        seen.add(target)
        body = await fetch(target, None)


__all__ = [
    "MAX_PAGE_SIZE",
    "MIN_PAGE_SIZE",
    "next_target",
    "page_size_param",
    "paginate",
    "parse_page",
]
