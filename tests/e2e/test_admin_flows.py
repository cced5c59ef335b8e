"""The accounting team's main paths in headless Chromium: map a category, read a bill's trail.

Real servers on loopback (the product's served app — webhooks, health and admin UI — and
both emulators), a connection made through the product's own code (OAuth consent on the
emulator's page, Ramp API client, setup), and the product's worker run between browser
steps, so every page shows what the sync really did.

The firm's FreshBooks has two bills: one in "Legal Fees", which syncs, and one in
"Shipping", whose branch of the chart ("Office Expenses & Postage") the firm has not
mapped yet, so it waits with that reason.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from loopback import ServerThread, free_port
from playwright.sync_api import Page, expect
from pydantic import SecretStr
from starlette.applications import Starlette

from ml_connector.cli.processes import WorkerOptions, build_worker
from ml_connector.core.flow_config import GLSection
from ml_connector.queue import WAITING, JobState, list_jobs
from ml_connector.settings import Settings
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import make_engine, read
from ml_connector.store.connections import ConnectionStatus
from ml_connector.store.testing import sqlite_database
from ml_connector.sync.backfill import start_backfill
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime
from ml_connector.sync.setup import setup_connection
from ml_connector.web.admin.flow import current_flow, revalidate, save_flow
from ml_connector.web.deps import AppDeps
from ml_connector.web.server import build_app
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import create_app as create_freshbooks_app
from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp import create_app as create_ramp_app

ADMIN_PASSWORD = "e2e-flows-password"
TEST_KEY = "yGqtS6LzT2cLJ3wqYyTQaJpP0j1dB0yq3f8m7t7bJ0Y="
CONNECTION = "Northbeam Studio"
UNMAPPED_BRANCH = "Office Expenses & Postage"
T = TypeVar("T")


def _in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run async product code on its own loop: Playwright's sync API owns this thread's."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()  # type: ignore[arg-type]


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Runtime]:
    engine = make_engine(settings.resolved_database_url)
    try:
        yield Runtime.build(engine, settings)
    finally:
        await engine.dispose()


@dataclass
class Flows:
    product: str
    settings: Settings
    freshbooks: FreshBooksWorld
    ramp: RampWorld
    connection_id: int
    synced_bill: str
    waiting_bill: str
    legal_parent: str
    """The FreshBooks category "Legal Fees" falls back to (setup maps top-level ones)."""

    def drain(self) -> None:
        """Run the product's worker until no job is waiting (what `serve` does continuously)."""

        async def work() -> None:
            async with _runtime(self.settings) as runtime:
                worker = build_worker(runtime, WorkerOptions(poll_interval=0.05, scheduler=False))
                for _ in range(200):
                    await worker.run_until_idle()
                    async with read(runtime.engine) as db:
                        if not await list_jobs(db, states=WAITING, limit=1):
                            return
                    # A retry due in a moment (a job that found the vendor being created).
                    await asyncio.sleep(0.1)
                raise AssertionError("the queue did not drain")

        _in_thread(work)

    def parked_jobs(self) -> list[tuple[int, str, str | None]]:
        async def work() -> list[tuple[int, str, str | None]]:
            async with _runtime(self.settings) as runtime, read(runtime.engine) as db:
                jobs = await list_jobs(db, states=(JobState.ATTENTION, JobState.DEAD))
            return [(j.id, str(j.args.get("fb_id")), j.last_error) for j in jobs]

        return _in_thread(work)

    def ramp_bill_of(self, fb_id: str) -> Any:
        found = [
            b
            for b in self.ramp.test_business.bills.values()
            if b.remote_id and b.remote_id.endswith(f":bill:{fb_id}")
        ]
        assert len(found) <= 1, found
        return found[0] if found else None


def _seed(books: Any) -> tuple[str, str]:
    def vendor(name: str, email: str) -> int:
        body = {"vendor_name": name, "currency_code": "USD", "country": "US",
                "province": "NY", "primary_contact_email": email}  # fmt: skip
        return int(books.create("bill_vendors", body).id)

    def bill(vendor_id: int, number: str, category: str, amount: str) -> str:
        body = {"vendorid": vendor_id, "bill_number": number, "issue_date": "2026-10-05",
                "due_offset_days": 30, "currency_code": "USD",
                "lines": [{"categoryid": books.category_named(category).id, "quantity": 1,
                           "unit_cost": {"amount": amount, "code": "USD"},
                           "description": f"{category} for October"}]}  # fmt: skip
        return str(books.create("bills", body).id)

    legal = vendor("Quartz Legal LLP", "billing@quartzlegal.example")
    courier = vendor("Maple Courier", "ap@maplecourier.example")
    return (
        bill(legal, "QL-2210", "Legal Fees", "1250.00"),
        bill(courier, "MC-88", "Shipping", "84.50"),
    )


async def _approve(authorize_url: str) -> str:
    """The FreshBooks user presses Allow on the emulator's consent page."""
    async with httpx2.AsyncClient() as browser:
        page = await browser.get(authorize_url)
        assert page.status_code == 200, page.text
        fields = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        answer = await browser.post(
            str(page.url.copy_with(query=None)), data=fields | {"decision": "approve"}
        )
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


async def _connect_and_set_up(settings: Settings, ramp: RampWorld, unmapped: str) -> int:
    async with _runtime(settings) as runtime:
        client = next(iter(ramp.test_business.clients.values()))
        now = runtime.clock()
        async with runtime.engine.begin() as db:
            conn = await connections_store.create(db, name=CONNECTION, now=now)
            for kind, value in (
                (RAMP_CLIENT_ID, client.client_id),
                (RAMP_CLIENT_SECRET, client.client_secret),
            ):
                await credentials_store.put(
                    db, runtime.cipher, connection_id=conn.id, kind=kind, secret=value, now=now
                )
        fb = runtime.freshbooks_client(conn)
        try:
            await fb.exchange_code(await _approve(fb.authorization_url(state="e2e-flows")))
            business = (await fb.businesses())[0]
        finally:
            await fb.aclose()
        async with runtime.engine.begin() as db:
            await connections_store.update(
                db, conn.id, now=now, freshbooks_account_id=business.account_id,
                ramp_business_id=ramp.test_business_id,
            )  # fmt: skip
            await connections_store.set_status(db, conn.id, ConnectionStatus.ACTIVE, now=now)
        await setup_connection(runtime, conn.id)
        # The firm leaves one branch of its chart for the controller to map.
        flow = await current_flow(runtime, conn.id)
        assert flow.config is not None
        kept = tuple(e for e in flow.config.gl.mappings if e.category_id != unmapped)
        assert len(kept) == len(flow.config.gl.mappings) - 1
        config = revalidate(
            flow.config,
            gl=GLSection(suspense_account=flow.config.gl.suspense_account, mappings=kept),
        )
        await save_flow(runtime, conn.id, config, author="controller", comment="shipping later")
        async with runtime.engine.begin() as db:
            await start_backfill(db, conn.id, runtime.clock())
        return conn.id


def _product_app(settings: Settings) -> Starlette:
    """The served app (`web.server.build_app`), closing its engine in its own event loop."""
    engine = make_engine(settings.resolved_database_url)
    app = build_app(AppDeps(runtime=Runtime.build(engine, settings)))
    startup_and_shutdown = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Starlette) -> AsyncIterator[None]:
        async with startup_and_shutdown(served):
            yield
        await engine.dispose()

    app.router.lifespan_context = lifespan
    return app


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flows]:
    tmp: Path = tmp_path_factory.mktemp("flows")
    product_port, fb_port, ramp_port = free_port(), free_port(), free_port()
    product_url = f"http://127.0.0.1:{product_port}"
    clock = EmulatorClock()
    freshbooks = FreshBooksWorld(
        scenario="empty", clock=clock, redirect_uris=(f"{product_url}/oauth/freshbooks/callback",)
    )
    ramp = RampWorld(scenario="empty", clock=clock, public_url=f"http://127.0.0.1:{ramp_port}")
    books = freshbooks.primary.books
    synced_bill, waiting_bill = _seed(books)
    unmapped = str(books.category_named(UNMAPPED_BRANCH).id)
    credentials = freshbooks.credentials()
    with ExitStack() as stack:
        url = stack.enter_context(sqlite_database(tmp))
        settings = Settings(
            data_dir=tmp,
            database_url=url,
            public_url=product_url,
            encryption_keys=[SecretStr(TEST_KEY)],
            session_secret=SecretStr("e2e-flows-session-secret"),
            freshbooks_client_id=credentials["client_id"],
            freshbooks_client_secret=SecretStr(credentials["client_secret"]),
            freshbooks_api_base_url=f"http://127.0.0.1:{fb_port}",
            freshbooks_auth_base_url=f"http://127.0.0.1:{fb_port}",
            ramp_api_base_url=f"http://127.0.0.1:{ramp_port}/developer/v1",
            admin_password=SecretStr(ADMIN_PASSWORD),
        )
        stack.enter_context(ServerThread(create_freshbooks_app(freshbooks), fb_port))
        stack.enter_context(ServerThread(create_ramp_app(ramp), ramp_port))
        connection_id = _in_thread(lambda: _connect_and_set_up(settings, ramp, unmapped))
        product = stack.enter_context(ServerThread(_product_app(settings), product_port))
        env = Flows(
            product=product.url, settings=settings, freshbooks=freshbooks, ramp=ramp,
            connection_id=connection_id, synced_bill=synced_bill, waiting_bill=waiting_bill,
            legal_parent=str(books.category_named("Legal Fees").parentid),
        )  # fmt: skip
        env.drain()
        yield env


def sign_in(page: Page, flows: Flows) -> None:
    page.goto(f"{flows.product}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sync dashboard")).to_be_visible()


def test_map_a_category_then_the_bill_that_waited_syncs_with_it(flows: Flows, page: Page) -> None:
    [(job_id, fb_id, reason)] = flows.parked_jobs()
    assert fb_id == flows.waiting_bill
    assert flows.ramp_bill_of(flows.waiting_bill) is None
    sign_in(page, flows)

    page.get_by_role("link", name="Needs attention").click()
    waiting = page.get_by_role("row").filter(has_text=f"bill {flows.waiting_bill}")
    expect(waiting).to_contain_text("Shipping")
    expect(waiting).to_contain_text("has no GL mapping")

    page.get_by_role("link", name="Connections").click()
    page.get_by_role("link", name=CONNECTION).click()
    page.get_by_role("link", name="GL mapping").click()
    expect(page.locator("#coverage-summary")).to_contain_text("needs attention")
    shipping = page.get_by_label("Shipping", exact=True)
    expect(shipping).to_have_value("")
    choice = shipping.locator("optgroup[label='All active accounts'] option").filter(
        has_text=UNMAPPED_BRANCH
    )
    shipping.select_option(value=choice.get_attribute("value"))
    page.get_by_role("button", name="Save GL mapping").click()

    expect(page.get_by_text("GL mapping saved as version 3.")).to_be_visible()
    expect(page.get_by_text("GL mapping edited in the admin UI")).to_be_visible()
    expect(page.get_by_label("Shipping", exact=True)).not_to_have_value("")
    shipping_row = page.get_by_role("row").filter(has=page.get_by_label("Shipping", exact=True))
    expect(shipping_row).to_contain_text("explicit")

    page.get_by_role("link", name="Needs attention").click()
    page.get_by_role("button", name=f"Replay job {job_id}").click()
    expect(page.get_by_text("Replayed 1 job(s) with the current mapping.")).to_be_visible()
    flows.drain()
    page.reload()
    expect(page.locator("#inbox-empty")).to_be_visible()

    bill = flows.ramp_bill_of(flows.waiting_bill)
    assert bill is not None, reason
    [line] = bill.line_items
    [gl] = [s for s in line.selections if s.field_type == "GL_ACCOUNT"]
    assert gl.option_name == UNMAPPED_BRANCH
    assert line.amount_minor == 8450


def test_open_a_synced_bills_audit_timeline(flows: Flows, page: Page) -> None:
    bill = flows.ramp_bill_of(flows.synced_bill)
    assert bill is not None
    sign_in(page, flows)

    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("FreshBooks id").fill(flows.synced_bill)
    page.get_by_label("Object type").select_option("bill")
    page.get_by_role("button", name="Show timeline").click()

    timeline = page.get_by_role("region", name=re.compile(r"^Timeline "))
    expect(timeline).to_have_count(1)
    expect(timeline).to_contain_text("hash chain intact")
    steps = timeline.locator("ol.timeline > li strong").all_text_contents()
    for step in ("queued_by_backfill", "received", "fetched", "mapped", "ramp.request",
                 "ramp.response", "outcome"):  # fmt: skip
        assert step in steps, steps
    assert steps.index("mapped") < steps.index("ramp.request") < steps.index("ramp.response")
    expect(timeline).to_contain_text(f"Ramp {bill.id}")

    # The request written to Ramp is one click away: the bill, coded by the mapping
    # ("Legal Fees" falls back to its parent's account).
    request = (
        timeline.locator("ol.timeline > li")
        .filter(has=page.locator("strong", has_text=re.compile(r"^ramp\.request$")))
        .first
    )
    request.locator("summary").click()
    detail = request.locator("pre")
    expect(detail).to_contain_text('"path": "/bills"')
    expect(detail).to_contain_text('"invoice_number": "QL-2210"')
    expect(detail).to_contain_text(f'"field_option_external_id": "fb-cat-{flows.legal_parent}"')

    # Looking the same bill up by its Ramp id finds the same history.
    page.get_by_label("FreshBooks id").fill("")
    page.get_by_label("or Ramp id").fill(bill.id)
    page.get_by_role("button", name="Show timeline").click()
    expect(page.get_by_role("region", name=re.compile(r"^Timeline "))).to_contain_text(
        "ramp.response"
    )
