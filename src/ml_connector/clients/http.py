"""Pieces every HTTP client shares: the `Retry-After` reading and a client factory."""

from __future__ import annotations

import ssl
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache

import httpx2

DEFAULT_TIMEOUT = httpx2.Timeout(30.0, connect=10.0)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None.

    Negative or unparseable values give None rather than an exception: the header is a
    hint, and the caller's own backoff applies without it.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    return seconds if seconds >= 0 else None


@cache
def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~10 ms of CPU); a job opens two clients, so
    # a backfill would spend more CPU here than on its own work. One per process suffices:
    # the context is read-only once built and safe to share between connection pools.
    return httpx2.create_ssl_context()


def network_transport() -> httpx2.AsyncHTTPTransport:
    """A transport to the real network, on the process's one TLS context."""
    return httpx2.AsyncHTTPTransport(verify=_ssl_context())


def make_async_client(
    base_url: str,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
    auth: httpx2.Auth | None = None,
    headers: dict[str, str] | None = None,
) -> httpx2.AsyncClient:
    """An `AsyncClient` on `base_url`; tests pass an ASGI or mock `transport`."""
    return httpx2.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=timeout,
        auth=auth,
        headers={"User-Agent": "ml-connector", **(headers or {})},
    )


__all__ = ["DEFAULT_TIMEOUT", "make_async_client", "network_transport", "parse_retry_after"]
