"""Commit-then-drop on every Ramp write the connector makes.

Ramp takes no idempotency key. The emulator lets each write commit, then withholds the
answer, as a connection dropped after the server's commit would. The connector must
find what it wrote (bill by `remote_id`, vendor by `external_vendor_id` or name) before
writing again, and repeat the idempotent writes (PATCH, DELETE, memo) safely.

Phases, all with drops armed for a seeded share of each write type:
1. backfill: vendor create, bill create, manual-paid bill (cash expense), transaction
   coding and memo (card expenses);
2. every bill edited in FreshBooks (webhook → bill PATCH);
3. a seeded half of the bills deleted in FreshBooks (webhook → bill archive).
"""

from __future__ import annotations

import time
from typing import Any

from chaos.context import Context
from chaos.inproc import InProcess
from chaos.tally import Tally, integrity_problems, judge_world, ramp_counters

ROUTES = {
    "vendor.create": "POST /developer/v1/vendors",
    "bill.create": "POST /developer/v1/bills",
    "bill.patch": "PATCH /developer/v1/bills/{bill_id}",
    "bill.archive": "DELETE /developer/v1/bills/{bill_id}",
    "transaction.coding": "PATCH /developer/v1/transactions/{transaction_id}",
    "transaction.memo": "POST /developer/v1/memos/{transaction_id}",
}
"""The write types; a manually paid bill for a cash expense is a `bill.create` too."""


def _arm(env: InProcess, route: str, count: int) -> None:
    if count:
        env.w.h.ramp.faults.arm({"drop_after_write": {"route": route, "count": count}})


def _left(env: InProcess, route: str) -> int:
    return sum(d.remaining for d in env.w.h.ramp.faults.drops if d.route == route)


async def run(ctx: Context) -> Tally:
    started = time.monotonic()
    rng = ctx.rng("commit-then-drop")
    tally = Tally("commit-then-drop", ctx.seed, ctx.database)
    vendors, bills = ctx.count(6, 3), ctx.count(18, 6)
    cards, cash = ctx.count(6, 3), ctx.count(4, 2)
    with ctx.database_url("commit-then-drop") as url:
        async with InProcess.start(url, ctx.tmp) as env:
            vendor_ids = env.seed_vendors(vendors)
            bill_ids = [
                env.seed_bill(vendor_ids[n % vendors], n, rng.randint(1_00, 9_999_99))
                for n in range(bills)
            ]
            for n in range(cards):
                env.seed_card_expense(n, rng.randint(5_00, 900_00))
            for n in range(cash):
                env.seed_cash_expense(n, rng.randint(1_00, 200_00))
            await env.register_webhooks()

            armed: dict[str, int] = {}
            counts = {
                "vendor.create": rng.randint(vendors // 2 + 1, vendors),
                "bill.create": rng.randint((bills + cash) // 2 + 1, bills + cash),
                "transaction.coding": rng.randint(cards // 2 + 1, cards),
                "transaction.memo": rng.randint(cards // 2 + 1, cards),
            }
            for name, count in counts.items():
                _arm(env, ROUTES[name], count)
                armed[name] = count
            await env.backfill()

            armed["bill.patch"] = rng.randint(bills // 2 + 1, bills)
            _arm(env, ROUTES["bill.patch"], armed["bill.patch"])
            for bill_id in bill_ids:
                env.edit_bill(bill_id, rng.randint(1_00, 9_999_99))
            await env.settle()

            doomed = rng.sample(bill_ids, k=max(1, bills // 2))
            armed["bill.archive"] = rng.randint(len(doomed) // 2 + 1, len(doomed))
            _arm(env, ROUTES["bill.archive"], armed["bill.archive"])
            for bill_id in doomed:
                env.delete_bill(bill_id)
            await env.settle()
            tally.problems += await env.sweep()

            fired = {name: armed[name] - _left(env, ROUTES[name]) for name in armed}
            tally.faults = {"armed": armed, "fired": fired}
            unfired = [name for name in armed if fired[name] == 0]
            if unfired:
                tally.problems.append(f"drops never fired for {unfired}: the campaign is void")
            tally.add(
                await judge_world(env.w.h.engine, env.books, env.ramp,
                                  card_expenses=env.card_expenses)
            )  # fmt: skip
            tally.problems += integrity_problems(env.w.h.freshbooks, env.w.h.ramp)
            tally.counters = ramp_counters(env.w.h.ramp) | _writes(env)
    tally.elapsed_s = time.monotonic() - started
    return tally


def _writes(env: InProcess) -> dict[str, Any]:
    by_route = env.w.h.ramp.counters.requests_by_route
    return {f"requests {route}": by_route.get(route, 0) for route in ROUTES.values()}


__all__ = ["ROUTES", "run"]
