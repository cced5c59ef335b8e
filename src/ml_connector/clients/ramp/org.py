"""Organisation lookups: departments (cost centres), entities (bill `entity_id`), users."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ml_connector.clients.ramp.models import Department, Entity, User
from ml_connector.clients.ramp.pagination import MAX_PAGE_SIZE
from ml_connector.clients.ramp.requester import Requester


class DepartmentsApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(self) -> AsyncIterator[Department]:
        return self._r.iterate(
            "departments", {"page_size": MAX_PAGE_SIZE}, Department, what="department"
        )


class EntitiesApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self, *, currency: str | None = None, is_primary: bool | None = None
    ) -> AsyncIterator[Entity]:
        params = {"currency": currency, "is_primary": is_primary, "page_size": MAX_PAGE_SIZE}
        return self._r.iterate("entities", params, Entity, what="entity")


class UsersApi:
    def __init__(self, requester: Requester) -> None:
        self._r = requester

    def list(
        self,
        *,
        email: str | None = None,
        role: str | None = None,
        department_id: str | None = None,
        entity_id: str | None = None,
    ) -> AsyncIterator[User]:
        params = {
            "email": email,
            "role": role,
            "department_id": department_id,
            "entity_id": entity_id,
            "page_size": MAX_PAGE_SIZE,
        }
        return self._r.iterate("users", params, User, what="user")


__all__ = ["DepartmentsApi", "EntitiesApi", "UsersApi"]
