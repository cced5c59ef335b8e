from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import httpx2
import pytest
from ramp_fakes import FakeRamp, body, page, ramp_error

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ramp.accounting import batches
from ml_connector.clients.ramp.client import api_root
from ml_connector.clients.ramp.models import (
    AccountingSelection,
    GLAccountUpload,
    TransactionLineItemCoding,
)
from ml_connector.core.errors import ApiValidationError, ConfigurationError, NeedsAttentionError

pytestmark = pytest.mark.anyio


def _query(request: httpx2.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


async def test_vendor_external_id_is_checked_client_side(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    # An older Ramp ignores the filter and returns every vendor.
    fake.route("GET", "vendors")(
        lambda r: page(
            [
                {"id": "v1", "name": "Acme", "external_vendor_id": "fb:7"},
                {"id": "v2", "name": "Beta", "external_vendor_id": None},
            ]
        )
    )
    async with make_client() as client:
        found = await client.vendors.find_by_external_id("fb:7")
        missing = await client.vendors.find_by_external_id("fb:8")
    assert found is not None
    assert found.id == "v1"
    assert missing is None
    assert _query(fake.api_requests()[0])["external_vendor_id"] == ["fb:7"]


async def test_two_vendors_with_one_external_id_need_attention(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "vendors")(
        lambda r: page(
            [{"id": f"v{i}", "name": "Acme", "external_vendor_id": "fb:7"} for i in (1, 2)]
        )
    )
    async with make_client() as client:
        with pytest.raises(NeedsAttentionError, match="2 Ramp vendors"):
            await client.vendors.find_by_external_id("fb:7")


async def test_vendor_search_and_contacts(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "vendors")(lambda r: page([{"id": "v1", "name": "Acme, Inc."}]))
    fake.route("GET", "vendors/v1/contacts")(
        lambda r: page([{"id": "c1", "email": "ap@acme.example", "is_default": True}])
    )
    async with make_client() as client:
        [vendor] = await client.vendors.search("Acme")
        [contact] = await client.vendors.contacts(vendor.id)
    assert _query(fake.api_requests()[0])["name"] == ["Acme"]
    assert contact.email == "ap@acme.example"


async def test_ids_cannot_escape_their_path_segment(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "bills/..%2Fvendors")(lambda r: httpx2.Response(404))
    async with make_client() as client:
        with pytest.raises(Exception, match="404"):
            await client.bills.get("../vendors")
    assert fake.api_requests()[0].url.raw_path == b"/developer/v1/bills/..%2Fvendors"


async def test_find_bill_by_remote_id_scans_the_vendors_bills(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def bills(request: httpx2.Request) -> httpx2.Response:
        archived = request.url.params["is_archived"] == "true"
        money = {"amount": 1000, "currency_code": "USD"}
        if archived:
            return page(
                [
                    {
                        "id": "b9",
                        "remote_id": "fb:1",
                        "amount": money,
                        "status": "OPEN",
                        "archived_at": "2026-01-01T00:00:00Z",
                    }
                ]
            )
        return page(
            [
                {"id": "b1", "remote_id": "fb:2", "amount": money, "status": "OPEN"},
                {"id": "b2", "remote_id": "fb:1", "amount": money, "status": "OPEN"},
            ]
        )

    fake.route("GET", "bills")(bills)
    async with make_client() as client:
        live = await client.bills.find_by_remote_id("fb:1", vendor_id="v1")
        everywhere = await client.bills.find_by_remote_id(
            "fb:1", vendor_id="v1", include_archived=True
        )
    assert [b.id for b in live] == ["b2"]
    assert [b.id for b in everywhere] == ["b2", "b9"]
    assert all(_query(r)["vendor_id"] == ["v1"] for r in fake.api_requests())


async def test_archive_is_a_delete(fake: FakeRamp, make_client: Callable[..., RampClient]) -> None:
    fake.route("DELETE", "bills/b1")(lambda r: httpx2.Response(204))
    async with make_client() as client:
        await client.bills.archive("b1")
    assert [r.method for r in fake.api_requests()] == ["DELETE"]


async def test_gl_upload_goes_in_batches_of_at_most_500(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def upload(request: httpx2.Request) -> httpx2.Response:
        accounts = body(request)["gl_accounts"]
        return httpx2.Response(
            201,
            json={
                "gl_accounts": [
                    {**a, "ramp_id": f"r-{a['id']}", "is_active": True} for a in accounts
                ]
            },
        )

    fake.route("POST", "accounting/accounts")(upload)
    accounts = [
        GLAccountUpload(id=str(n), name=f"Account {n}", classification="EXPENSE")
        for n in range(1200)
    ]
    async with make_client() as client:
        created = await client.accounting.gl_accounts.upload(accounts)
    assert [len(body(r)["gl_accounts"]) for r in fake.api_requests()] == [500, 500, 200]
    assert len(created) == 1200
    assert created[1199].ramp_id == "r-1199"
    assert body(fake.api_requests()[0])["gl_accounts"][0] == {
        "id": "0",
        "name": "Account 0",
        "classification": "EXPENSE",
    }


async def test_gl_upload_with_duplicate_ids_sends_nothing(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    accounts = [GLAccountUpload(id="6410", name=n, classification="EXPENSE") for n in ("A", "B")]
    async with make_client() as client:
        with pytest.raises(ApiValidationError, match="6410"):
            await client.accounting.gl_accounts.upload(accounts)
    assert fake.requests == []


def test_batches() -> None:
    assert [len(b) for b in batches(list(range(1001)))] == [500, 500, 1]
    assert batches([]) == []
    with pytest.raises(ValueError, match=r"1\.\.500"):
        batches([1], 501)


async def test_ensure_connection_adopts_an_active_one(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "accounting/all-connections")(
        lambda r: httpx2.Response(
            200,
            json={
                "connections": [
                    {"id": "old", "is_active": False, "status": "unlinked"},
                    {
                        "id": "live",
                        "is_active": True,
                        "status": "LINKED",
                        "remote_provider_name": "QuickBooks",
                    },
                ]
            },
        )
    )
    async with make_client() as client:
        connection = await client.accounting.ensure_connection()
    assert connection.id == "live"
    assert connection.status == "linked"
    assert [r.method for r in fake.api_requests()] == ["GET"]


async def test_ensure_connection_creates_one_when_none_is_active(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "accounting/all-connections")(
        lambda r: httpx2.Response(200, json={"connections": []})
    )
    fake.route("POST", "accounting/connection")(
        lambda r: httpx2.Response(201, json={"id": "new", "is_active": True, **body(r)})
    )
    async with make_client() as client:
        connection = await client.accounting.ensure_connection("FreshBooks Sync")
    assert connection.id == "new"
    assert body(fake.api_requests()[1]) == {"remote_provider_name": "FreshBooks Sync"}


async def test_transaction_filters_are_sent_as_ramp_expects(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "transactions")(lambda r: page([{"id": "t1", "amount": 12.5}]))
    async with make_client() as client:
        [transaction] = [
            t
            async for t in client.transactions.list(
                from_date=datetime(2026, 8, 1, tzinfo=UTC),
                min_amount=Decimal("12.50"),
                state="ALL",
                sync_ready=False,
                order="order_by_date_asc",
            )
        ]
    assert transaction.amount == Decimal("12.5")
    assert _query(fake.api_requests()[0]) == {
        "from_date": ["2026-08-01T00:00:00+00:00"],
        "min_amount": ["12.50"],
        "state": ["ALL"],
        "sync_ready": ["false"],
        "order_by_date_asc": ["true"],
        "page_size": ["100"],
    }


async def test_transaction_coding_and_memo(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("PATCH", "transactions/t1")(lambda r: httpx2.Response(200, json={"id": "t1"}))
    fake.route("POST", "memos/t1")(lambda r: httpx2.Response(200, json={"id": "t1", **body(r)}))
    coding = [
        TransactionLineItemCoding(
            amount=Decimal("12.50"),
            accounting_field_selections=[
                AccountingSelection(field_external_id="Category", field_option_external_id="6410")
            ],
        )
    ]
    async with make_client() as client:
        await client.transactions.patch_coding("t1", coding)
        memo = await client.transactions.set_memo("t1", "FreshBooks expense 42")
    patch, post = fake.api_requests()
    assert body(patch) == {
        "line_items": [
            {
                "amount": "12.50",
                "accounting_field_selections": [
                    {"field_external_id": "Category", "field_option_external_id": "6410"}
                ],
            }
        ]
    }
    assert body(post) == {"memo": "FreshBooks expense 42"}
    assert memo.memo == "FreshBooks expense 42"


async def test_webhook_subscribe_verify_delete(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("POST", "webhooks")(
        lambda r: httpx2.Response(
            201,
            json={"id": "w1", "secret": "ramp_sec_x", "status": "pending_verification", **body(r)},
        )
    )
    fake.route("POST", "webhooks/w1/verify")(lambda r: httpx2.Response(200, json={"success": True}))
    fake.route("DELETE", "webhooks/w1")(lambda r: httpx2.Response(204))
    async with make_client() as client:
        created = await client.webhooks.subscribe("https://hooks.example/ramp", ["bills.paid"])
        verified = await client.webhooks.verify(created.id, "challenge-123")
        await client.webhooks.delete(created.id)
    assert created.secret == "ramp_sec_x"
    assert verified
    subscribe, verify, _ = fake.api_requests()
    assert body(subscribe) == {
        "endpoint_url": "https://hooks.example/ramp",
        "event_types": ["bills.paid"],
    }
    assert body(verify) == {"challenge": "challenge-123"}


async def test_scopes_listed_by_the_token_are_trusted(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.token_scope = "bills:read vendors:read"
    async with make_client(scopes=("bills:read", "bills:write", "vendors:read")) as client:
        missing = await client.check_scopes()
    assert [m.scope for m in missing] == ["bills:write"]
    assert "'bills:write'" in missing[0].remediation
    assert "create, update and archive bills" in missing[0].remediation
    assert fake.api_requests() == []


async def test_scopes_are_probed_when_the_token_does_not_list_them(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def denied(scope: str) -> Callable[[httpx2.Request], httpx2.Response]:
        message = f"These scopes are not allowed for this client: {scope}"
        return lambda request: ramp_error(403, "DEVELOPER_7100", message)

    fake.route("GET", "bills")(lambda r: page([]))
    fake.route("POST", "bills")(
        lambda r: ramp_error(422, "DEVELOPER_7001", "Missing data for required field.")
    )
    fake.route("GET", "vendors")(denied("vendors:read"))
    fake.route("POST", "vendors")(denied("vendors:write"))
    async with make_client(
        scopes=("bills:read", "bills:write", "vendors:read", "vendors:write")
    ) as client:
        missing = await client.check_scopes()
    assert [m.scope for m in missing] == ["vendors:read", "vendors:write"]
    assert len(fake.tokens_issued) == 2  # the stored token, then a fresh one to see new grants


async def test_scopes_refused_at_the_token_endpoint_are_found_one_by_one(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    def token(request: httpx2.Request) -> httpx2.Response:
        scopes = parse_qs(request.content.decode())["scope"][0].split()
        if "transactions:write" in scopes:
            return httpx2.Response(400, json={"error": "invalid_scope"})
        return fake._mint(request)

    fake.token_handler = token
    async with make_client(scopes=("bills:read", "transactions:write")) as client:
        missing = await client.check_scopes()
    assert [m.scope for m in missing] == ["transactions:write"]


def test_api_root_accepts_host_or_full_api_url() -> None:
    assert api_root("https://demo-api.ramp.com") == "https://demo-api.ramp.com/developer/v1/"
    assert api_root("https://api.ramp.com/developer/v1/") == "https://api.ramp.com/developer/v1/"
    assert api_root("http://127.0.0.1:8111") == "http://127.0.0.1:8111/developer/v1/"
    with pytest.raises(ConfigurationError):
        api_root("api.ramp.com")


def test_client_requires_credentials(make_client: Callable[..., RampClient]) -> None:
    with pytest.raises(ConfigurationError):
        make_client(client_secret="")
