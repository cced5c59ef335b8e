"""FreshBooks page-number pagination: `page` (1-based), `per_page` (max 100), `pages`.

The loop runs on `page < pages`, never on `total`: FreshBooks' `total` may count rows the
token cannot read. A server that answers a different page than the one asked for would
make the loop repeat or skip rows, so that stops iteration with an error instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ml_connector.clients.freshbooks.errors import SYSTEM
from ml_connector.core.errors import ApiValidationError, TransientApiError

MAX_PER_PAGE = 100

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    pages: int
    per_page: int
    total: int

    @property
    def is_last(self) -> bool:
        return self.page >= self.pages


def check_per_page(per_page: int) -> int:
    """FreshBooks silently caps `per_page` at 100; asking for more hides a caller's mistake."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    return per_page


def _int(result: Mapping[str, Any], key: str, what: str) -> int:
    value = result.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TransientApiError(f"FreshBooks {what}: list answer lacks `{key}`", system=SYSTEM)
    return value


def parse_items(raw: object, model: type[M], what: str) -> list[M]:
    """Validate a list of wire objects; a malformed object is a vendor-side data problem."""
    if not isinstance(raw, list):
        raise TransientApiError(f"FreshBooks {what}: expected a list", system=SYSTEM)
    try:
        return [model.model_validate(item) for item in raw]
    except ValidationError as exc:
        raise ApiValidationError(
            f"FreshBooks {what}: unexpected object shape ({exc.error_count()} problems)",
            system=SYSTEM,
            detail=str(exc)[:500],
        ) from exc


def parse_page(result: Mapping[str, Any], plural: str, model: type[M], what: str) -> Page[M]:
    """A `Page` from an accounting list `result` (`{plural: [...], page, pages, per_page, total}`)."""
    return Page(
        items=parse_items(result.get(plural), model, what),
        page=_int(result, "page", what),
        pages=_int(result, "pages", what),
        per_page=_int(result, "per_page", what),
        total=_int(result, "total", what),
    )


async def iterate_pages(fetch: Callable[[int], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every item of every page, fetching page 1, 2, … until `page >= pages`."""
    number = 1
    while True:
        page = await fetch(number)
        if page.page != number:
            raise TransientApiError(
                f"FreshBooks answered page {page.page} when asked for page {number}",
                system=SYSTEM,
            )
        for item in page.items:
            yield item
        if page.is_last:
            return
        number += 1


__all__ = ["MAX_PER_PAGE", "Page", "check_per_page", "iterate_pages", "parse_items", "parse_page"]
