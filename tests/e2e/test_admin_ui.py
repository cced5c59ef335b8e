"""The admin UI in headless Chromium against real loopback servers (product + both emulators).

Debian's Chromium is driven by Playwright without `playwright install` (`conftest.py`);
every server is uvicorn in a thread on 127.0.0.1 (`loopback.py`), and the product talks to
the emulators over HTTP.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from loopback import ServerThread, free_port
from playwright.sync_api import Page, expect
from pydantic import SecretStr
from starlette.applications import Starlette

from ml_connector.core.retry import DeadLetter
from ml_connector.queue import claim, enqueue, fail
from ml_connector.settings import Settings
from ml_connector.store import make_engine
from ml_connector.store.testing import sqlite_database
from ml_connector.sync.runtime import Runtime
from ml_connector.web.admin import mount
from ml_connector.web.deps import AppDeps
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import create_app as create_freshbooks_app
from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp import create_app as create_ramp_app

ADMIN_PASSWORD = "e2e-admin-password"
TEST_KEY = "yGqtS6LzT2cLJ3wqYyTQaJpP0j1dB0yq3f8m7t7bJ0Y="
FAILED_ERROR = "Ramp answered 422: vendor_contact_id is required"


@dataclass
class Stack:
    product: str
    ramp: str
    failed_job_id: int


async def _seed_failed_job(url: str) -> int:
    """A job that died, for the inbox to replay (a system job: no connection yet)."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as db:
            job = await enqueue(
                db, kind="sync.vendor", args={"connection_id": 0, "fb_id": "404"}, now=now
            )
        async with engine.begin() as db:
            [claimed] = await claim(db, owner="e2e", now=now, lease=timedelta(minutes=1))
            await fail(
                db, claimed.id, owner="e2e", decision=DeadLetter(reason=FAILED_ERROR),
                error=FAILED_ERROR, now=now,
            )  # fmt: skip
    finally:
        await engine.dispose()
    return job.job_id


def product_app(settings: Settings) -> Starlette:
    engine = make_engine(settings.resolved_database_url)
    runtime = Runtime.build(engine, settings)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()  # in the server's own event loop

    routes, middleware = mount(AppDeps(runtime=runtime))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    product_port, fb_port, ramp_port = free_port(), free_port(), free_port()
    product_url = f"http://127.0.0.1:{product_port}"
    clock = EmulatorClock()
    fb_world = FreshBooksWorld(
        scenario="empty", clock=clock, redirect_uris=(f"{product_url}/oauth/freshbooks/callback",)
    )
    ramp_world = RampWorld(
        scenario="empty", clock=clock, public_url=f"http://127.0.0.1:{ramp_port}"
    )
    fb_credentials = fb_world.credentials()
    with sqlite_database(tmp_path) as url:
        # Playwright's sync API owns this thread's event loop; seed from a thread of our own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            failed_job_id = pool.submit(lambda: asyncio.run(_seed_failed_job(url))).result()
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            public_url=product_url,
            encryption_keys=[SecretStr(TEST_KEY)],
            session_secret=SecretStr("e2e-session-secret"),
            freshbooks_client_id=fb_credentials["client_id"],
            freshbooks_client_secret=SecretStr(fb_credentials["client_secret"]),
            freshbooks_api_base_url=f"http://127.0.0.1:{fb_port}",
            freshbooks_auth_base_url=f"http://127.0.0.1:{fb_port}",
            ramp_api_base_url=f"http://127.0.0.1:{ramp_port}/developer/v1",
            admin_password=SecretStr(ADMIN_PASSWORD),
        )
        with (
            ServerThread(create_freshbooks_app(fb_world), fb_port),
            ServerThread(create_ramp_app(ramp_world), ramp_port) as ramp,
            ServerThread(product_app(settings), product_port) as product,
        ):
            yield Stack(product=product.url, ramp=ramp.url, failed_job_id=failed_job_id)


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.product}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sync dashboard")).to_be_visible()


def test_connect_both_sides_and_see_mapping_coverage(stack: Stack, page: Page) -> None:
    sign_in(page, stack)
    page.get_by_role("link", name="Connections").click()
    page.get_by_label("Name").fill("Northbeam")
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_role("heading", name="Northbeam")).to_be_visible()

    page.get_by_role("link", name="Connect FreshBooks").click()
    page.locator("#approve").click()  # the emulator's consent page
    expect(page.get_by_text("connected; webhook registration is queued")).to_be_visible()
    expect(page.locator("#fb-account")).not_to_be_empty()

    ramp = httpx2.get(f"{stack.ramp}/_sandbox/credentials").json()
    page.get_by_label("Client ID").fill(ramp["client_id"])
    page.get_by_label("Client secret").fill(ramp["client_secret"])
    page.get_by_role("button", name="Save Ramp API client").click()
    expect(page.get_by_text("every scope the connector needs is granted")).to_be_visible()
    expect(page.locator("#connection-status")).to_have_text("active")
    assert ramp["client_secret"] not in page.content()

    page.get_by_role("button", name="Save entity").click()
    expect(page.get_by_text("Bills will belong to the Ramp entity")).to_be_visible()
    page.get_by_role("link", name="GL mapping").click()
    page.get_by_role("button", name="Start a flow configuration").click()
    expect(page.locator("#coverage-summary")).to_contain_text("unmapped")
    expect(page.locator("#coverage-summary")).to_contain_text("needs attention")


def test_replay_a_failed_job_from_the_inbox(stack: Stack, page: Page) -> None:
    sign_in(page, stack)
    page.get_by_role("link", name="Needs attention").click()
    expect(page.get_by_text(FAILED_ERROR)).to_be_visible()
    page.get_by_role("button", name=f"Replay job {stack.failed_job_id}").click()
    expect(page.get_by_text("Replayed 1 job(s) with the current mapping.")).to_be_visible()
    expect(page.locator("#inbox-empty")).to_be_visible()


def test_keyboard_users_can_skip_to_content_and_sign_in(stack: Stack, page: Page) -> None:
    page.goto(f"{stack.product}/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sync dashboard")).to_be_visible()
