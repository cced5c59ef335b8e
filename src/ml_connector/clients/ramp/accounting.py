"""The accounting API: the connection, GL accounts, custom fields and their options.

Uploads are all-or-nothing per call and Ramp takes at most 500 objects per call, so
larger lists go in batches. A failure in batch N leaves batches before it uploaded:
the caller re-lists and uploads only what is still missing (Ramp rejects duplicates).
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from ml_connector.clients.ramp.errors import SYSTEM, UnexpectedResponseError
from ml_connector.clients.ramp.models import (
    AccountingConnection,
    AccountingConnectionCreate,
    AccountingField,
    AccountingFieldCreate,
    FieldOption,
    FieldOptionUpdate,
    FieldOptionUpload,
    GLAccount,
    GLAccountUpdate,
    GLAccountUpload,
)
from ml_connector.clients.ramp.pagination import MAX_PAGE_SIZE, page_size_param
from ml_connector.clients.ramp.paths import seg
from ml_connector.clients.ramp.requester import Requester, parse_as
from ml_connector.core.errors import ApiValidationError

UPLOAD_BATCH_LIMIT = 500
DEFAULT_PROVIDER_NAME = "ml-connector (FreshBooks)"

T = TypeVar("T")


def batches(items: Sequence[T], size: int = UPLOAD_BATCH_LIMIT) -> list[list[T]]:
    """`items` cut into consecutive lists of at most `size`."""
    if not 1 <= size <= UPLOAD_BATCH_LIMIT:
        raise ValueError(f"batch size must be 1..{UPLOAD_BATCH_LIMIT}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _reject_duplicate_ids(ids: Sequence[str], what: str) -> None:
    dupes = sorted(remote_id for remote_id, count in Counter(ids).items() if count > 1)
    if dupes:
        raise ApiValidationError(
            f"{what} upload lists these remote ids more than once: {', '.join(dupes)}",
            system=SYSTEM,
        )


def _items(body: Any, key: str, path: str) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        raise UnexpectedResponseError(f"Ramp POST {path} returned no '{key}' list", system=SYSTEM)
    return list(body[key])


class GLAccountsApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self,
        *,
        remote_id: str | None = None,
        is_active: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[GLAccount]:
        params = {
            "remote_id": remote_id,
            "is_active": is_active,
            "page_size": page_size_param(page_size),
        }
        return self._r.iterate("accounting/accounts", params, GLAccount, what="GL account")

    async def upload(
        self, accounts: Sequence[GLAccountUpload], *, batch_size: int = UPLOAD_BATCH_LIMIT
    ) -> builtins.list[GLAccount]:
        """Upload new GL accounts in batches of at most 500; returns what Ramp created."""
        _reject_duplicate_ids([a.id for a in accounts], "GL account")
        created: builtins.list[GLAccount] = []
        for batch in batches(accounts, batch_size):
            body = await self._r.request(
                "POST",
                "accounting/accounts",
                json_body={"gl_accounts": [a.wire() for a in batch]},
                idempotent=False,
            )
            created += [
                parse_as(GLAccount, item, what="GL account")
                for item in _items(body, "gl_accounts", "accounting/accounts")
            ]
        return created

    async def patch(self, ramp_id: str, changes: GLAccountUpdate) -> GLAccount:
        """Rename, re-code or reactivate; the path id is Ramp's UUID (`ramp_id`)."""
        return await self._r.call(
            "PATCH",
            f"accounting/accounts/{seg(ramp_id)}",
            GLAccount,
            what="GL account",
            json_body=changes.wire(),
            idempotent=True,
        )

    async def delete(self, ramp_id: str) -> None:
        """Deactivate (Ramp keeps it; `patch(reactivate=True)` brings it back)."""
        await self._r.request("DELETE", f"accounting/accounts/{seg(ramp_id)}", idempotent=True)


class FieldsApi:
    """Custom accounting fields (dimensions such as a cost-centre field) and their options."""

    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self, *, remote_id: str | None = None, is_active: bool | None = None
    ) -> AsyncIterator[AccountingField]:
        params = {"remote_id": remote_id, "is_active": is_active, "page_size": MAX_PAGE_SIZE}
        return self._r.iterate(
            "accounting/fields", params, AccountingField, what="accounting field"
        )

    async def create(self, field: AccountingFieldCreate) -> AccountingField:
        """Create a field; Ramp returns (and reactivates) an existing one with the same id."""
        return await self._r.call(
            "POST",
            "accounting/fields",
            AccountingField,
            what="accounting field",
            json_body=field.wire(),
            idempotent=True,
        )

    def options(
        self, field_ramp_id: str, *, remote_id: str | None = None, is_active: bool | None = None
    ) -> AsyncIterator[FieldOption]:
        params = {
            "field_id": field_ramp_id,
            "remote_id": remote_id,
            "is_active": is_active,
            "page_size": MAX_PAGE_SIZE,
        }
        return self._r.iterate("accounting/field-options", params, FieldOption, what="field option")

    async def upload_options(
        self,
        field_ramp_id: str,
        options: Sequence[FieldOptionUpload],
        *,
        batch_size: int = UPLOAD_BATCH_LIMIT,
    ) -> builtins.list[FieldOption]:
        """Upload new options of one field in batches of at most 500."""
        _reject_duplicate_ids([o.id for o in options], "field option")
        created: builtins.list[FieldOption] = []
        for batch in batches(options, batch_size):
            body = await self._r.request(
                "POST",
                "accounting/field-options",
                json_body={"field_id": field_ramp_id, "options": [o.wire() for o in batch]},
                idempotent=False,
            )
            created += [
                parse_as(FieldOption, item, what="field option")
                for item in _items(body, "options", "accounting/field-options")
            ]
        return created

    async def patch_option(self, option_ramp_id: str, changes: FieldOptionUpdate) -> FieldOption:
        return await self._r.call(
            "PATCH",
            f"accounting/field-options/{seg(option_ramp_id)}",
            FieldOption,
            what="field option",
            json_body=changes.wire(),
            idempotent=True,
        )


class AccountingApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester
        self.gl_accounts = GLAccountsApi(requester)
        self.fields = FieldsApi(requester)

    async def connections(self) -> list[AccountingConnection]:
        body = await self._r.request("GET", "accounting/all-connections")
        return [
            parse_as(AccountingConnection, item, what="accounting connection")
            for item in _items(body, "connections", "accounting/all-connections")
        ]

    async def ensure_connection(
        self, remote_provider_name: str = DEFAULT_PROVIDER_NAME
    ) -> AccountingConnection:
        """The active accounting connection, creating an API connection if there is none.

        Ramp allows one active connection and answers a create with the incumbent, so
        reading first is what lets the caller see it adopted someone else's connection
        (a Direct ERP link makes GL uploads read-only).
        """
        for connection in await self.connections():
            if connection.is_active:
                return connection
        return await self._r.call(
            "POST",
            "accounting/connection",
            AccountingConnection,
            what="accounting connection",
            json_body=AccountingConnectionCreate(remote_provider_name=remote_provider_name).wire(),
            idempotent=True,
        )


__all__ = ["UPLOAD_BATCH_LIMIT", "AccountingApi", "FieldsApi", "GLAccountsApi", "batches"]
