"""Paths, envelopes, pagination, filters and writes of the accounting resources."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from fbclient_helpers import MakeClient, envelope, tokens

from ml_connector.clients.freshbooks import Search
from ml_connector.core.errors import NotFoundError, TransientApiError


def bill(n: int) -> dict[str, Any]:
    return {"id": n, "issue_date": "2026-11-01", "currency_code": "USD", "lines": []}


class PagedBills:
    """Serves `count` bills with FreshBooks' page semantics and records every query."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.queries: list[list[tuple[str, str]]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/accounting/account/ABC123/bills/bills"
        self.queries.append(list(request.url.params.multi_items()))
        page = max(int(request.url.params["page"]), 1)
        per_page = min(int(request.url.params["per_page"]), 100)
        pages = -(-self.count // per_page)
        start = (page - 1) * per_page
        rows = [bill(n) for n in range(start + 1, min(start + per_page, self.count) + 1)]
        return httpx2.Response(
            200,
            json=envelope(bills=rows, page=page, pages=pages, per_page=per_page, total=self.count),
        )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("count", "per_page", "requests"), [(0, 15, 1), (15, 15, 1), (16, 15, 2), (250, 100, 3)]
)
async def test_list_walks_every_page(
    make_client: MakeClient, count: int, per_page: int, requests: int
) -> None:
    fake = PagedBills(count)
    client = await make_client(fake, stored=tokens(0))
    ids = [b.id async for b in client.bills("ABC123").list(per_page=per_page)]
    assert ids == list(range(1, count + 1))
    assert len(fake.queries) == requests
    assert [dict(q)["page"] for q in fake.queries] == [str(n) for n in range(1, requests + 1)]


@pytest.mark.anyio
async def test_list_stops_on_pages_not_total(make_client: MakeClient) -> None:
    calls: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(
            200, json=envelope(bills=[], page=1, pages=1, per_page=100, total=16)
        )

    client = await make_client(handler, stored=tokens(0))
    assert [b async for b in client.bills("ABC123").list()] == []
    assert len(calls) == 1


@pytest.mark.anyio
async def test_list_refuses_a_page_it_did_not_ask_for(make_client: MakeClient) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, json=envelope(bills=[bill(1)], page=1, pages=3, per_page=1, total=3)
        )

    client = await make_client(handler, stored=tokens(0))
    seen: list[int] = []

    async def drain() -> None:
        async for b in client.bills("ABC123").list(per_page=1):
            seen.append(b.id)

    with pytest.raises(TransientApiError, match="page 1 when asked for page 2"):
        await drain()
    assert seen == [1]


@pytest.mark.anyio
async def test_page_zero_is_refused_rather_than_silently_page_one(make_client: MakeClient) -> None:
    calls: list[httpx2.Request] = []
    client = await make_client(lambda r: calls.append(r) or httpx2.Response(200), stored=tokens(0))
    with pytest.raises(ValueError, match="start at 1"):
        await client.bills("ABC123").page(0)
    assert calls == []


@pytest.mark.parametrize("per_page", [0, 101])
def test_per_page_bounds(per_page: int) -> None:
    from ml_connector.clients.freshbooks.pagination import check_per_page

    with pytest.raises(ValueError, match="per_page"):
        check_per_page(per_page)


@pytest.mark.anyio
async def test_filters_and_includes_are_url_encoded(make_client: MakeClient) -> None:
    fake = PagedBills(1)
    client = await make_client(fake, stored=tokens(0))
    search = (
        Search()
        .equals("vendorid", 5)
        .in_("statuses", ["unpaid", "overdue"])
        .between("issue_date", min=date(2026, 1, 1), max="2026-02-01")
        .equals("vendor_name", "Smith & Sons + Co")
    )
    [
        b
        async for b in client.bills("ABC123").list(
            search, include=("vendor",), sort="issue_date_desc"
        )
    ]
    request_query = fake.queries[0]
    assert request_query == [
        ("page", "1"),
        ("per_page", "100"),
        ("search[vendorid]", "5"),
        ("search[statuses][]", "unpaid"),
        ("search[statuses][]", "overdue"),
        ("search[issue_date_min]", "2026-01-01"),
        ("search[issue_date_max]", "2026-02-01"),
        ("search[vendor_name]", "Smith & Sons + Co"),
        ("include[]", "vendor"),
        ("sort", "issue_date_desc"),
    ]


@pytest.mark.anyio
async def test_raw_query_string_encodes_brackets_and_values(make_client: MakeClient) -> None:
    raw: list[bytes] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        raw.append(request.url.query)
        return httpx2.Response(200, json=envelope(bills=[], page=1, pages=0, per_page=100, total=0))

    client = await make_client(handler, stored=tokens(0))
    [b async for b in client.bills("ABC123").list(Search().equals("vendor_name", "A&B=C+D é"))]
    query = raw[0].decode()
    assert query.endswith("&search%5Bvendor_name%5D=A%26B%3DC%2BD+%C3%A9")
    assert "&B=" not in query


def test_search_values() -> None:
    from datetime import UTC, datetime

    pairs = (
        Search()
        .equals("has_receipt", True)
        .between("amount", min=Decimal("10.50"))
        .between("updated", max=datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
        .like("email_like", "bob")
        .params()
    )
    assert pairs == [
        ("search[has_receipt]", "true"),
        ("search[amount_min]", "10.50"),
        ("search[updated_max]", "2026-03-04"),
        ("search[email_like]", "bob"),
    ]


@pytest.mark.anyio
async def test_get_with_include_and_quoted_ids(make_client: MakeClient) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=envelope(bill=bill(7)))

    client = await make_client(handler, stored=tokens(0))
    await client.bills("AB/C").get(7, include=("vendor",))
    assert seen[0].url.raw_path == b"/accounting/account/AB%2FC/bills/bills/7?include%5B%5D=vendor"


@pytest.mark.anyio
async def test_create_wraps_singular_and_sends_decimal_strings(make_client: MakeClient) -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/json"
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=envelope(bill=bill(9)))

    client = await make_client(handler, stored=tokens(0))
    created = await client.bills("ABC123").create(
        {
            "vendorid": 5,
            "issue_date": date(2026, 11, 1),
            "lines": [
                {
                    "categoryid": 65773,
                    "quantity": 1,
                    "unit_cost": {"amount": Decimal("125.10"), "code": "USD"},
                }
            ],
        }
    )
    assert created.id == 9
    assert sent[0] == {
        "bill": {
            "vendorid": 5,
            "issue_date": "2026-11-01",
            "lines": [
                {
                    "categoryid": 65773,
                    "quantity": 1,
                    "unit_cost": {"amount": "125.10", "code": "USD"},
                }
            ],
        }
    }


@pytest.mark.anyio
async def test_floats_are_refused_before_sending(make_client: MakeClient) -> None:
    calls: list[httpx2.Request] = []
    client = await make_client(lambda r: calls.append(r) or httpx2.Response(200), stored=tokens(0))
    with pytest.raises(TypeError, match="float"):
        await client.expenses("ABC123").create({"amount": {"amount": 79.73, "code": "USD"}})
    assert calls == []


@pytest.mark.anyio
async def test_update_refuses_vis_state_and_delete_sends_only_vis_state(
    make_client: MakeClient,
) -> None:
    sent: list[tuple[str, str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append((request.method, request.url.path, json.loads(request.content)))
        return httpx2.Response(
            200, json=envelope(bill_vendor={"vendorid": 3, "vendor_name": "V", "vis_state": 1})
        )

    client = await make_client(handler, stored=tokens(0))
    vendors = client.bill_vendors("ABC123")
    with pytest.raises(ValueError, match="vis_state"):
        await vendors.update(3, {"vendor_name": "X", "vis_state": 0})
    deleted = await vendors.delete(3)
    await vendors.archive(3)
    await vendors.restore(3)
    assert deleted.vis_state == 1
    path = "/accounting/account/ABC123/bill_vendors/bill_vendors/3"
    assert sent == [
        ("PUT", path, {"bill_vendor": {"vis_state": 1}}),
        ("PUT", path, {"bill_vendor": {"vis_state": 2}}),
        ("PUT", path, {"bill_vendor": {"vis_state": 0}}),
    ]


@pytest.mark.anyio
async def test_taxes_delete_with_http_delete(make_client: MakeClient) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"response": {}})

    client = await make_client(handler, stored=tokens(0))
    await client.taxes("ABC123").delete(4)
    assert (seen[0].method, seen[0].url.path) == (
        "DELETE",
        "/accounting/account/ABC123/taxes/taxes/4",
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("resource", "path", "key", "obj"),
    [
        (
            "bill_payments",
            "bill_payments/bill_payments",
            "bill_payment",
            {
                "id": 1,
                "billid": 2,
                "amount": {"amount": "1.00", "code": "USD"},
                "paid_date": "2026-01-30",
            },
        ),
        (
            "expenses",
            "expenses/expenses",
            "expense",
            {"expenseid": 1, "amount": {"amount": "1.00", "code": "USD"}, "date": "2026-01-30"},
        ),
        ("categories", "expenses/categories", "category", {"categoryid": 1, "category": "Gas"}),
        ("taxes", "taxes/taxes", "tax", {"taxid": 1, "name": "GST", "amount": "5"}),
    ],
)
async def test_resource_paths(
    make_client: MakeClient, resource: str, path: str, key: str, obj: dict[str, Any]
) -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        return httpx2.Response(200, json=envelope(**{key: obj}))

    client = await make_client(handler, stored=tokens(0))
    await getattr(client, resource)("ABC123").get(1)
    assert seen == [f"/accounting/account/ABC123/{path}/1"]


@pytest.mark.anyio
async def test_ledger_accounts_flat_envelope(make_client: MakeClient) -> None:
    account = {"uuid": "u-1", "name": "Cash", "type": "asset", "updated_at": "2026-01-02T03:04:05Z"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path.startswith("/accounting/businesses/b-uuid/ledger_accounts/accounts")
        if request.url.path.endswith("/missing"):
            return httpx2.Response(
                404,
                json={
                    "errors": {
                        "message": "Request failed with status code 404",
                        "status": 404,
                        "details": [{"reason": "Not found."}],
                    }
                },
            )
        if request.method == "POST":
            return httpx2.Response(200, json={"data": {**account, **json.loads(request.content)}})
        return httpx2.Response(200, json={"data": [account]})

    ledger = (await make_client(handler, stored=tokens(0))).ledger_accounts("b-uuid")
    accounts = await ledger.list()
    assert [a.name for a in accounts] == ["Cash"]
    assert accounts[0].updated_at is not None
    assert accounts[0].updated_at.isoformat() == "2026-01-02T03:04:05+00:00"
    created = await ledger.create({"name": "Travel", "type": "expense"})
    assert created.name == "Travel"
    with pytest.raises(NotFoundError, match="Not found"):
        await ledger.get("missing")


@pytest.mark.anyio
async def test_callbacks_lifecycle(make_client: MakeClient) -> None:
    log: list[tuple[str, str, Any]] = []
    callback = {
        "callbackid": 2001,
        "event": "bill.create",
        "uri": "https://hooks.example/fb",
        "verified": False,
        "updated_at": "2017-08-23T11:45:09Z",
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content) if request.content else None
        log.append((request.method, request.url.path, body))
        if request.method == "DELETE":
            return httpx2.Response(204)
        if request.method == "GET" and request.url.path.endswith("callbacks"):
            assert request.url.params["search[event]"] == "bill"
            return httpx2.Response(
                200,
                json=envelope(
                    callbacks=[
                        {"id": 2002, **{k: v for k, v in callback.items() if k != "callbackid"}}
                    ],
                    page=1,
                    pages=1,
                    per_page=100,
                    total=1,
                ),
            )
        verified = bool(body and body["callback"].get("verifier"))
        return httpx2.Response(200, json=envelope(callback={**callback, "verified": verified}))

    callbacks = (await make_client(handler, stored=tokens(0))).callbacks("ABC123")
    registered = await callbacks.register("bill.create", "https://hooks.example/fb")
    verified = await callbacks.verify(registered.callbackid, "the-verifier")
    await callbacks.resend(2001)
    listed = [c.callbackid async for c in callbacks.list(event="bill")]
    await callbacks.delete(2001)

    base = "/events/account/ABC123/events/callbacks"
    assert registered.verified is False
    assert verified.verified is True
    assert listed == [2002]
    assert log == [
        ("POST", base, {"callback": {"event": "bill.create", "uri": "https://hooks.example/fb"}}),
        ("PUT", f"{base}/2001", {"callback": {"verifier": "the-verifier"}}),
        ("PUT", f"{base}/2001", {"callback": {"resend": True}}),
        ("GET", base, None),
        ("DELETE", f"{base}/2001", None),
    ]


@pytest.mark.anyio
async def test_rate_limiter_books_every_request_including_refresh(make_client: MakeClient) -> None:
    booked: list[str] = []

    class Limiter:
        async def acquire(self, key: str, *, share: float = 1.0) -> None:
            booked.append(key)

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            from fbclient_helpers import token_answer

            return httpx2.Response(200, json=token_answer(1))
        if request.headers["Authorization"] == "Bearer access-0":
            return httpx2.Response(401, json={})
        return httpx2.Response(200, json=envelope(bill=bill(1)))

    client = await make_client(
        handler, stored=tokens(0), rate_limiter=Limiter(), rate_limit_key="fb:ABC123"
    )
    await client.bills("ABC123").get(1)
    assert booked == ["fb:ABC123"] * 3


@pytest.mark.anyio
async def test_a_client_books_within_its_share_of_the_budget(make_client: MakeClient) -> None:
    shares: list[float] = []

    class Limiter:
        async def acquire(self, key: str, *, share: float = 1.0) -> None:
            shares.append(share)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=envelope(bill=bill(1)))

    client = await make_client(
        handler, stored=tokens(0), rate_limiter=Limiter(), rate_limit_key="fb:ABC123",
        rate_limit_share=0.6,
    )  # fmt: skip
    await client.bills("ABC123").get(1)
    assert shares == [0.6]
