"""The accounting resources under `/accounting/account/{account_id}/…` and ledger accounts.

Each resource knows its path, its singular and plural envelope keys and how it deletes:
most delete by `PUT {"<singular>": {"vis_state": 1}}`; taxes by a real HTTP `DELETE`.
A PUT that carries `vis_state` makes FreshBooks silently drop every other key, so
`update` refuses to mix them and state changes have their own methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from ml_connector.clients.freshbooks.errors import SYSTEM
from ml_connector.clients.freshbooks.models import (
    Bill,
    BillPayment,
    BillVendor,
    Category,
    Expense,
    LedgerAccount,
    Tax,
)
from ml_connector.clients.freshbooks.pagination import (
    Page,
    check_per_page,
    iterate_pages,
    parse_items,
    parse_page,
)
from ml_connector.clients.freshbooks.query import Search, include_params, list_params
from ml_connector.clients.freshbooks.session import ApiSession, result_mapping, result_of
from ml_connector.core.errors import ApiValidationError, TransientApiError

M = TypeVar("M", bound=BaseModel)

VIS_ACTIVE = 0
VIS_DELETED = 1
VIS_ARCHIVED = 2

ObjectId = int | str


def segment(value: ObjectId) -> str:
    """One path segment; ids and account ids are quoted so they cannot add path parts."""
    return quote(str(value), safe="")


def parse_one(raw: object, model: type[M], what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiValidationError(
            f"FreshBooks {what}: unexpected object shape ({exc.error_count()} problems)",
            system=SYSTEM,
            detail=str(exc)[:500],
        ) from exc


class AccountingResource(Generic[M]):
    """Read access to one accounting collection: pages, full listings, single objects."""

    def __init__(
        self,
        session: ApiSession,
        account_id: str,
        *,
        path: str,
        singular: str,
        plural: str,
        model: type[M],
    ) -> None:
        self._session = session
        self._base = f"/accounting/account/{segment(account_id)}/{path}"
        self._singular = singular
        self._plural = plural
        self._model = model

    def _url(self, object_id: ObjectId | None = None) -> str:
        return self._base if object_id is None else f"{self._base}/{segment(object_id)}"

    async def page(
        self,
        number: int = 1,
        *,
        search: Search | None = None,
        include: Iterable[str] = (),
        sort: str | None = None,
        per_page: int = 100,
    ) -> Page[M]:
        """One page of the collection (deleted objects excluded unless searched for)."""
        if number < 1:
            raise ValueError("FreshBooks pages start at 1")
        params = list_params(
            page=number,
            per_page=check_per_page(per_page),
            search=search,
            include=include,
            sort=sort,
        )
        what = f"GET {self._base}"
        body = await self._session.call("GET", self._base, params=params)
        return parse_page(result_mapping(body, what), self._plural, self._model, what)

    def list(
        self,
        search: Search | None = None,
        *,
        include: Iterable[str] = (),
        sort: str | None = None,
        per_page: int = 100,
    ) -> AsyncIterator[M]:
        """Every matching object, page after page."""
        include = tuple(include)
        check_per_page(per_page)

        async def fetch(number: int) -> Page[M]:
            return await self.page(
                number, search=search, include=include, sort=sort, per_page=per_page
            )

        return iterate_pages(fetch)

    async def get(self, object_id: ObjectId, *, include: Iterable[str] = ()) -> M:
        url = self._url(object_id)
        body = await self._session.call("GET", url, params=include_params(include))
        what = f"GET {url}"
        return parse_one(result_of(body, self._singular, what), self._model, what)

    async def _write(
        self, method: str, url: str, fields: Mapping[str, Any], include: Iterable[str]
    ) -> M:
        body = await self._session.call(
            method, url, params=include_params(include), body={self._singular: dict(fields)}
        )
        what = f"{method} {url}"
        return parse_one(result_of(body, self._singular, what), self._model, what)


class WritableResource(AccountingResource[M]):
    """Create and partial update (PUT sends only the keys given)."""

    async def create(self, fields: Mapping[str, Any], *, include: Iterable[str] = ()) -> M:
        """POST `{singular: fields}`; FreshBooks answers 200 with the full object."""
        return await self._write("POST", self._url(), fields, include)

    async def update(
        self, object_id: ObjectId, fields: Mapping[str, Any], *, include: Iterable[str] = ()
    ) -> M:
        """PUT only `fields`. `vis_state` is refused: it would discard the other keys."""
        if "vis_state" in fields:
            raise ValueError("use delete/archive/restore to change vis_state")
        return await self._write("PUT", self._url(object_id), fields, include)


class VisStateResource(WritableResource[M]):
    """A resource deleted and archived through `vis_state` (bills, vendors, payments, expenses)."""

    async def _set_vis_state(self, object_id: ObjectId, vis_state: int) -> M:
        return await self._write("PUT", self._url(object_id), {"vis_state": vis_state}, ())

    async def delete(self, object_id: ObjectId) -> M:
        """Soft delete; the answer is the object with `vis_state` 1."""
        return await self._set_vis_state(object_id, VIS_DELETED)

    async def archive(self, object_id: ObjectId) -> M:
        return await self._set_vis_state(object_id, VIS_ARCHIVED)

    async def restore(self, object_id: ObjectId) -> M:
        return await self._set_vis_state(object_id, VIS_ACTIVE)


class CategoryResource(AccountingResource[Category]):
    """Expense categories: read, plus custom child categories."""

    async def create(self, fields: Mapping[str, Any]) -> Category:
        return await self._write("POST", self._url(), fields, ())


class TaxResource(WritableResource[Tax]):
    """Taxes are the one accounting resource with a real HTTP `DELETE`."""

    async def delete(self, object_id: ObjectId) -> None:
        await self._session.call("DELETE", self._url(object_id))


def bills(session: ApiSession, account_id: str) -> VisStateResource[Bill]:
    return VisStateResource(
        session, account_id, path="bills/bills", singular="bill", plural="bills", model=Bill
    )


def bill_vendors(session: ApiSession, account_id: str) -> VisStateResource[BillVendor]:
    return VisStateResource(
        session,
        account_id,
        path="bill_vendors/bill_vendors",
        singular="bill_vendor",
        plural="bill_vendors",
        model=BillVendor,
    )


def bill_payments(session: ApiSession, account_id: str) -> VisStateResource[BillPayment]:
    return VisStateResource(
        session,
        account_id,
        path="bill_payments/bill_payments",
        singular="bill_payment",
        plural="bill_payments",
        model=BillPayment,
    )


def expenses(session: ApiSession, account_id: str) -> VisStateResource[Expense]:
    return VisStateResource(
        session,
        account_id,
        path="expenses/expenses",
        singular="expense",
        plural="expenses",
        model=Expense,
    )


def categories(session: ApiSession, account_id: str) -> CategoryResource:
    return CategoryResource(
        session,
        account_id,
        path="expenses/categories",
        singular="category",
        plural="categories",
        model=Category,
    )


def taxes(session: ApiSession, account_id: str) -> TaxResource:
    return TaxResource(
        session, account_id, path="taxes/taxes", singular="tax", plural="taxes", model=Tax
    )


class LedgerAccounts:
    """The chart of accounts, under `/accounting/businesses/{business_uuid}/…`.

    A different family: flat `{"data": …}` envelopes, no pagination, its own error shape.
    """

    def __init__(self, session: ApiSession, business_uuid: str) -> None:
        self._session = session
        self._base = f"/accounting/businesses/{segment(business_uuid)}/ledger_accounts/accounts"

    def _data(self, body: Any, what: str) -> Any:
        if not isinstance(body, Mapping) or "data" not in body:
            raise TransientApiError(f"FreshBooks {what}: answer lacks `data`", system=SYSTEM)
        return body["data"]

    async def list(self) -> list[LedgerAccount]:
        what = f"GET {self._base}"
        body = await self._session.call("GET", self._base)
        return parse_items(self._data(body, what), LedgerAccount, what)

    async def get(self, account_uuid: str) -> LedgerAccount:
        url = f"{self._base}/{segment(account_uuid)}"
        what = f"GET {url}"
        body = await self._session.call("GET", url)
        return parse_one(self._data(body, what), LedgerAccount, what)

    async def create(self, fields: Mapping[str, Any]) -> LedgerAccount:
        what = f"POST {self._base}"
        body = await self._session.call("POST", self._base, body=fields)
        return parse_one(self._data(body, what), LedgerAccount, what)


__all__ = [
    "VIS_ACTIVE",
    "VIS_ARCHIVED",
    "VIS_DELETED",
    "AccountingResource",
    "CategoryResource",
    "LedgerAccounts",
    "ObjectId",
    "TaxResource",
    "VisStateResource",
    "WritableResource",
    "bill_payments",
    "bill_vendors",
    "bills",
    "categories",
    "expenses",
    "parse_one",
    "segment",
    "taxes",
]
