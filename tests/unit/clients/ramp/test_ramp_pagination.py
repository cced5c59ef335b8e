from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx2
import pytest
from ramp_fakes import FakeRamp, page

from ml_connector.clients.ramp import PaginationError, RampClient
from ml_connector.clients.ramp.pagination import next_target, page_size_param

pytestmark = pytest.mark.anyio


def _vendor(n: int) -> dict[str, object]:
    return {"id": f"v{n}", "name": f"Vendor {n}"}


async def test_follows_page_next_and_keeps_the_token_on_the_configured_host(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def vendors(request: httpx2.Request) -> httpx2.Response:
        start = request.url.params.get("start")
        if start is None:
            # Ramp writes its own host into `next`; we must not follow it there.
            return page(
                [_vendor(1), _vendor(2)],
                "https://elsewhere.example/developer/v1/vendors?page_size=2&start=v2&is_active=true",
            )
        if start == "v2":
            return page(
                [_vendor(3), _vendor(4)],
                "https://api.ramp.com/developer/v1/vendors?page_size=2&start=v4&is_active=true",
            )
        return page([_vendor(5)])

    fake.route("GET", "vendors")(vendors)
    async with make_client() as client:
        names = [v.name async for v in client.vendors.list(is_active=True, page_size=2)]
    assert names == [f"Vendor {n}" for n in range(1, 6)]
    requests = fake.api_requests()
    assert {r.url.host for r in requests} == {"api.ramp.com"}
    assert [parse_qs(r.url.query.decode()) for r in requests] == [
        {"is_active": ["true"], "page_size": ["2"]},
        {"page_size": ["2"], "start": ["v2"], "is_active": ["true"]},
        {"page_size": ["2"], "start": ["v4"], "is_active": ["true"]},
    ]


async def test_a_repeated_cursor_is_a_loop_not_a_hang(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    looping = "https://api.ramp.com/developer/v1/bills?start=b2"
    fake.route("GET", "bills")(
        lambda r: page(
            [{"id": "b1", "amount": {"amount": 1, "currency_code": "USD"}, "status": "OPEN"}],
            looping,
        )
    )
    async with make_client() as client:
        with pytest.raises(PaginationError, match="loops"):
            _ = [b async for b in client.bills.list()]
    assert len(fake.api_requests()) == 2


async def test_a_list_that_is_not_an_envelope_is_reported(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "departments")(lambda r: httpx2.Response(200, json=[{"id": "d1"}]))
    async with make_client() as client:
        with pytest.raises(Exception, match="list envelope"):
            await client.departments.list().__anext__()


def test_next_outside_the_api_is_refused() -> None:
    with pytest.raises(PaginationError, match="outside"):
        next_target("https://api.ramp.com/other/v1/bills?start=x", api_path="/developer/v1")
    with pytest.raises(PaginationError):
        next_target("https://api.ramp.com/developer/v1/", api_path="/developer/v1")
    assert (
        next_target("https://x/developer/v1/bills?start=b9", api_path="/developer/v1")
        == "bills?start=b9"
    )


@pytest.mark.parametrize("size", [1, 101, 0])
def test_page_size_outside_ramps_range_is_refused_before_sending(size: int) -> None:
    with pytest.raises(ValueError, match=r"2\.\.100"):
        page_size_param(size)


async def test_webhook_list_is_a_bare_array(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "webhooks")(
        lambda r: httpx2.Response(
            200,
            json=[
                {
                    "id": "w1",
                    "endpoint_url": "https://x/hook",
                    "event_types": ["bills.paid"],
                    "status": "ACTIVE",
                }
            ],
        )
    )
    async with make_client() as client:
        [subscription] = await client.webhooks.list()
    assert subscription.is_active
    assert subscription.status == "active"
