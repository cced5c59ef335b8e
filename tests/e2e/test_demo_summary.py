"""The demo's summary reconciles: FreshBooks = Ramp + waiting for review + skipped, no duplicates.

The demo runs once, in-process, on the `empty` scenario plus a handful of objects chosen to
land in each place: bills that sync, a vendor whose short name resembles another's (so it
and its bill wait for review), a bill deleted before the connector ever saw it (skipped,
with that reason) and a card expense with its Ramp charge. `make demo` runs the same
code on the full services-firm scenario.

Then Ramp is tampered with to show the tally is not a tautology: a bill that disappears
from Ramp, or a second Ramp bill for one FreshBooks bill, break the equation, and the CLI
exits non-zero saying so.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from typer.testing import CliRunner

from ml_connector.cli import demo as demo_cli
from ml_connector.cli.app import app
from ml_connector.cli.errors import ExitCode
from ml_connector.cli.web_loader import web_app_builder
from ml_connector.sync.demo import RAMP_HOST, DemoSummary, DemoWorld, reconcile, run_demo

DELETED_REASON = "deleted in FreshBooks before the connector listed it"
CARD_FEED = ("Ramp Visa Commercial ••4417", "Ramp")


async def _seed(world: DemoWorld) -> None:
    books = world.freshbooks.primary.books

    def vendor(name: str, n: int) -> int:
        body = {"vendor_name": name, "currency_code": "USD", "country": "US", "province": "NY",
                "primary_contact_email": f"ap{n}@vendor{n}.example"}  # fmt: skip
        return int(books.create("bill_vendors", body).id)

    def bill(vendor_id: int, number: str, category: str, amount: str) -> int:
        body = {"vendorid": vendor_id, "bill_number": number, "issue_date": "2026-10-05",
                "due_offset_days": 30, "currency_code": "USD",
                "lines": [{"categoryid": books.category_named(category).id, "quantity": 1,
                           "unit_cost": {"amount": amount, "code": "USD"}}]}  # fmt: skip
        return int(books.create("bills", body).id)

    quartz = vendor("Quartz Legal LLP", 1)
    lumen = vendor("Lumen Electric", 2)
    con_edison = vendor("Con Edison", 3)
    con_ed = vendor("ConEd", 4)
    bill(quartz, "QL-100", "Legal Fees", "1250.00")
    bill(lumen, "LE-7", "Gas & Electrical", "310.40")
    bill(con_edison, "CE-1", "Gas & Electrical", "98.10")
    bill(con_ed, "CE-2", "Gas & Electrical", "101.75")
    books.update("bills", bill(lumen, "LE-8", "Gas & Electrical", "12.00"), {"vis_state": 1})

    books.create(
        "expenses",
        {"categoryid": books.category_named("Shipping").id,
         "amount": {"amount": "84.50", "code": "USD"}, "date": "2026-10-20",
         "vendor": "Maple Courier", "staffid": next(iter(books.staff)),
         "notes": "Samples to the client. Paid with: company card",
         "account_name": CARD_FEED[0], "bank_name": CARD_FEED[1]},
    )  # fmt: skip
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=world.ramp_app), base_url=RAMP_HOST
    ) as ramp:
        answer = await ramp.post(
            "/_sandbox/transactions",
            json={"amount": "84.50", "merchant_name": "Maple Courier", "date": "2026-10-20"},
        )
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoWorld, DemoSummary]:
    data_dir = tmp_path_factory.mktemp("demo")

    async def run() -> tuple[DemoWorld, DemoSummary]:
        world, summary = await run_demo(
            data_dir, web_app_builder(), lambda _: None, scenario="empty", seed=_seed
        )
        # Each test runs its own event loop: let it open its own connections.
        await world.runtime.engine.dispose()
        return world, summary

    return anyio.run(run)


def _by_kind(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["kind"]: row for row in rows}


def test_every_object_is_in_ramp_waiting_or_skipped(
    demo_run: tuple[DemoWorld, DemoSummary],
) -> None:
    world, summary = demo_run
    assert summary.problems == []
    assert summary.ok
    kinds = _by_kind(summary.reconciliation)
    assert list(kinds) == ["bill_vendors", "bills", "expenses"]

    bills = kinds["bills"]
    # Five seeded (one deleted before the connection existed) and the demo's live bill.
    assert bills["in_freshbooks"] == 6
    assert bills["deleted_in_freshbooks"] == 1
    assert (bills["in_ramp"], bills["waiting_for_review"], bills["skipped"]) == (4, 1, 1)
    assert bills["skipped_reasons"] == {DELETED_REASON: 1}
    assert bills["equation"] == (
        "6 bills in FreshBooks = 4 in Ramp + 1 waiting for review + 1 skipped; 0 duplicates"
    )

    vendors = kinds["bill_vendors"]
    # "ConEd" may be a short form of "Con Edison": one of the two waits for a person.
    assert (vendors["in_freshbooks"], vendors["in_ramp"], vendors["waiting_for_review"]) == (
        5,
        4,
        1,
    )
    assert kinds["expenses"]["in_ramp"] == 1
    for row in kinds.values():
        assert row["balanced"] is True
        assert row["duplicates"] == 0
        assert row["unaccounted"] == {}
        assert row["in_freshbooks"] == row["in_ramp"] + row["waiting_for_review"] + row["skipped"]

    # The Ramp side, counted in Ramp: one bill per FreshBooks bill in Ramp, none twice.
    ramp_bills = world.ramp.test_business.bills.values()
    assert len(ramp_bills) == bills["in_ramp"]
    assert len({b.remote_id for b in ramp_bills}) == len(ramp_bills)
    assert summary.counters["ramp_duplicate_bills"] == 0
    assert summary.counters["ramp_duplicate_vendors"] == 0
    waiting = [a for a in summary.needs_attention if a["kind"] == "sync.bill"]
    assert len(waiting) == 1
    assert "Con Edison" in waiting[0]["reason"]


@pytest.mark.anyio
async def test_a_bill_missing_from_ramp_breaks_the_equation(
    demo_run: tuple[DemoWorld, DemoSummary],
) -> None:
    world, _ = demo_run
    bills = world.ramp.test_business.bills
    gone_id = next(iter(bills))
    gone = bills.pop(gone_id)
    try:
        tally = await reconcile(world)
    finally:
        bills[gone_id] = gone
        await world.runtime.engine.dispose()
    row = next(k for k in tally.kinds if k.kind == "bills")
    assert not row.balanced
    assert not tally.balanced
    fb_id = gone.remote_id.rsplit(":", 1)[1]
    assert row.unaccounted == {fb_id: f"linked to Ramp bill {gone_id}, which Ramp does not have"}
    assert "≠" in row.equation
    assert tally.problems() == [f"does not reconcile: {row.equation}"]


@pytest.mark.anyio
async def test_a_second_ramp_bill_for_one_freshbooks_bill_is_a_duplicate(
    demo_run: tuple[DemoWorld, DemoSummary],
) -> None:
    world, _ = demo_run
    bills = world.ramp.test_business.bills
    original = next(b for b in bills.values() if b.archived_at is None)
    twin = copy.copy(original)
    twin.id = "00000000-0000-4000-8000-00000000d0b1"
    bills[twin.id] = twin
    try:
        tally = await reconcile(world)
    finally:
        del bills[twin.id]
        await world.runtime.engine.dispose()
    row = next(k for k in tally.kinds if k.kind == "bills")
    assert row.duplicates == 2
    assert row.duplicate_details == [
        f"Ramp bill {twin.id} ({original.remote_id}) is linked to no FreshBooks object",
        f"2 live Ramp bills carry {original.remote_id}",
    ]
    assert not tally.balanced


def test_the_cli_shows_the_equation_and_fails_when_it_does_not_hold(
    demo_run: tuple[DemoWorld, DemoSummary],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    world, summary = demo_run
    broken = copy.deepcopy(summary.reconciliation)
    broken[1] |= {"balanced": False, "duplicates": 1,
                  "duplicate_details": ["2 live Ramp bills carry freshbooks:x:bill:1"]}  # fmt: skip
    outcomes = {
        "good": summary,
        "bad": DemoSummary(
            reconciliation=broken, problems=["does not reconcile: bills"], counters={}
        ),
    }

    def run_with(name: str, *args: str) -> Any:
        async def fake_run_demo(*_: Any, **__: Any) -> tuple[DemoWorld, DemoSummary]:
            return world, outcomes[name]

        monkeypatch.setattr(demo_cli, "run_demo", fake_run_demo)
        return CliRunner().invoke(
            app, ["demo", "--data-dir", str(tmp_path), *args], catch_exceptions=False
        )

    good = run_with("good")
    assert good.exit_code == 0, good.output
    assert "Reconciliation: in FreshBooks = in Ramp + waiting for review + skipped" in good.stdout
    for row in summary.reconciliation:
        assert row["equation"] in good.stdout
    assert f"skipped 1: {DELETED_REASON}" in good.stdout

    bad = run_with("bad")
    assert bad.exit_code == ExitCode.FAILED
    assert "duplicate: 2 live Ramp bills carry freshbooks:x:bill:1" in bad.stderr
    assert "does not reconcile: bills" in bad.stderr
    bad_json = run_with("bad", "--json")
    assert bad_json.exit_code == ExitCode.FAILED
    reported = json.loads(bad_json.stdout)
    assert reported["ok"] is False
    assert reported["reconciliation"][1]["balanced"] is False
