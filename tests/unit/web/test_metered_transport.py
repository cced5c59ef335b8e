"""Vendor calls are counted by system and status without the client knowing."""

from __future__ import annotations

import httpx2
import pytest
from prometheus_client import REGISTRY

from ml_connector.metrics import MeteredTransport

pytestmark = pytest.mark.anyio


def count(system: str, status: str) -> float:
    value = REGISTRY.get_sample_value("mlc_api_calls_total", {"system": system, "status": status})
    return value or 0.0


async def test_each_request_is_counted_by_status_and_failures_as_error() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/boom":
            raise httpx2.ConnectError("down", request=request)
        return httpx2.Response(429 if request.url.path == "/slow" else 200)

    ticks = iter([0.0, 0.5, 1.0, 1.25, 2.0, 2.5])
    transport = MeteredTransport(
        httpx2.MockTransport(answer), "unit-test", timer=lambda: next(ticks)
    )
    before = (count("unit-test", "200"), count("unit-test", "429"), count("unit-test", "error"))
    async with httpx2.AsyncClient(transport=transport, base_url="https://x.test") as http:
        await http.get("/ok")
        await http.get("/slow")
        with pytest.raises(httpx2.ConnectError):
            await http.get("/boom")
    after = (count("unit-test", "200"), count("unit-test", "429"), count("unit-test", "error"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
    duration = REGISTRY.get_sample_value("mlc_api_call_seconds_sum", {"system": "unit-test"})
    assert duration == pytest.approx(0.5 + 0.25 + 0.5)
