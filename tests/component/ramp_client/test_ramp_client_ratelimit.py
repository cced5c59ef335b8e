"""§12 item 5: 200 requests per rolling 10 s. The client's budget keeps it under, storms or not.

`max_requests_in_10s` is the emulator's count of requests that reached its limiter; a
spy transport between the client and the emulator also timestamps *every* request on the
shared clock (including ones the fault injector refused before the limiter saw them).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import httpx2
import pytest
from ramp_sandbox import Sandbox

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ratelimit import SlidingWindowLimiter
from ml_connector.core.errors import RateLimitedError

pytestmark = pytest.mark.anyio

RAMP_LIMIT = 200


class Spy(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, sandbox: Sandbox) -> None:
        self.inner = inner
        self.sandbox = sandbox
        self.sent_at: list[float] = []
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent_at.append(self.sandbox.time.monotonic())
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    def max_in_any_window(self, window: float = 10.0) -> int:
        best, start = 0, 0
        for end, stamp in enumerate(self.sent_at):
            while stamp - self.sent_at[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


async def _hammer(client: RampClient, calls: int, workers: int) -> tuple[int, list[Exception]]:
    ok = 0
    failures: list[Exception] = []

    async def worker(share: int) -> None:
        nonlocal ok
        for _ in range(share):
            try:
                [_ async for _ in client.departments.list()]
                ok += 1
            except RateLimitedError as exc:
                failures.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker, calls // workers)
    return ok, failures


async def _business_max(sandbox: Sandbox) -> int:
    counters = await sandbox.counters()
    return int(counters["max_requests_in_10s"][sandbox.credentials["business_id"]])


async def _refused_by_limit(sandbox: Sandbox) -> int:
    counters = await sandbox.counters()
    return int(counters["rate_limited"].get(sandbox.credentials["business_id"], 0))


async def test_a_burst_is_paced_under_the_limit_without_any_429(
    make_client: Callable[..., RampClient], sandbox: Sandbox
) -> None:
    spy = Spy(sandbox.transport, sandbox)
    client = make_client(transport=spy)
    ok, failures = await _hammer(client, calls=600, workers=12)
    assert (ok, failures) == (600, [])
    assert 429 not in spy.statuses
    assert sandbox.time.slept > 0  # the limiter, not the emulator, did the pacing
    assert spy.max_in_any_window() <= RAMP_LIMIT
    assert await _business_max(sandbox) <= RAMP_LIMIT
    assert await _refused_by_limit(sandbox) == 0


async def test_a_429_storm_never_pushes_ramp_over_200_in_10_seconds(
    make_client: Callable[..., RampClient], sandbox: Sandbox
) -> None:
    spy = Spy(sandbox.transport, sandbox)
    client = make_client(transport=spy)
    await client.token()
    await sandbox.post("/_sandbox/faults", {"rate_limit": {"seconds": 30, "retry_after": 2}})
    ok, failures = await _hammer(client, calls=400, workers=16)
    assert ok + len(failures) == 400
    assert ok > 0  # the storm ended on the emulator clock and the rest went through
    assert spy.statuses.count(429) > 0
    assert spy.max_in_any_window() <= RAMP_LIMIT
    assert await _business_max(sandbox) <= RAMP_LIMIT
    assert await _refused_by_limit(sandbox) == 0


async def test_a_smaller_real_budget_is_respected_through_retry_after(
    make_client: Callable[..., RampClient], sandbox: Sandbox
) -> None:
    """Someone else spends part of the budget: Ramp 429s, and Retry-After pauses every task."""
    sandbox.world.set_quirks(rate_limit_requests=60)
    spy = Spy(sandbox.transport, sandbox)
    client = make_client(transport=spy)
    ok, failures = await _hammer(client, calls=300, workers=10)
    assert (ok, failures) == (300, [])
    assert spy.statuses.count(429) < 30  # paused after a 429 instead of hammering
    assert await _business_max(sandbox) <= RAMP_LIMIT


async def test_two_clients_sharing_one_limiter_share_the_budget(
    make_client: Callable[..., RampClient], sandbox: Sandbox
) -> None:
    shared = SlidingWindowLimiter(
        clock=sandbox.time.monotonic, wall_clock=sandbox.time.clock.now, sleep=sandbox.time.sleep
    )
    spy = Spy(sandbox.transport, sandbox)
    first = make_client(transport=spy, rate_limiter=shared, rate_limit_key="ramp:business")
    second = make_client(transport=spy, rate_limiter=shared, rate_limit_key="ramp:business")
    async with anyio.create_task_group() as tg:
        tg.start_soon(_hammer, first, 300, 6)
        tg.start_soon(_hammer, second, 300, 6)
    assert len(spy.sent_at) >= 600
    assert spy.max_in_any_window() <= RAMP_LIMIT
    assert await _business_max(sandbox) <= RAMP_LIMIT
