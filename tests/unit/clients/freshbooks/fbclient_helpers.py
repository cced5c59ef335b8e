"""Constants and builders shared by the FreshBooks client unit tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from ml_connector.clients.freshbooks import FreshBooksClient
from ml_connector.core.tokens import TokenSet

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
KEY = "fb:conn-1"
CLIENT_ID = "client-id-1"
CLIENT_SECRET = "client-secret-very-secret"
REDIRECT_URI = "https://connector.example/oauth/freshbooks/callback"
API = "https://api.freshbooks.com"

Handler = Callable[[httpx2.Request], httpx2.Response | Awaitable[httpx2.Response]]
MakeClient = Callable[..., Awaitable[FreshBooksClient]]


def tokens(n: int, *, expires_at: datetime | None = None) -> TokenSet:
    return TokenSet(
        access_token=f"access-{n}",
        refresh_token=f"refresh-{n}",
        expires_at=expires_at or T0 + timedelta(hours=12),
    )


def token_answer(n: int, *, created_at: datetime = T0, expires_in: int = 43200) -> dict[str, Any]:
    return {
        "access_token": f"access-{n}",
        "token_type": "Bearer",
        "expires_in": expires_in,
        "created_at": int(created_at.timestamp()),
        "refresh_token": f"refresh-{n}",
        "scope": "user:profile:read user:bills:read",
    }


def envelope(**result: Any) -> dict[str, Any]:
    return {"response": {"result": result}}
