"""Duplicated, reordered, late and lost webhooks — and the sweep that repairs them.

After a backfill, waves of live changes (new vendors and bills, edits, deletions, card
expenses) are made in FreshBooks while its emulator duplicates, reorders, delays (by up
to several minutes) and drops deliveries at seeded rates; Ramp's deliveries are
duplicated, reordered and dropped too. Each wave is delivered and worked off, then one
reconciliation sweep runs. The numbers before the sweep show what webhooks alone lost;
the final numbers are what the connector guarantees.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from chaos.context import Context
from chaos.inproc import InProcess
from chaos.tally import Tally, integrity_problems, judge_world, ramp_counters
from ml_connector.store import read
from ml_connector.store.schema import audit_log

LIVE_VENDORS = (
    "Kestrel Analytics", "Marigold Florists", "Nimbus Hosting", "Pioneer Freight",
    "Redwood Security", "Summit Signage", "Violet Translation", "Willow Bookbinding",
)  # fmt: skip
KNOBS = {
    "duplicate_rate": 0.3,
    "loss_rate": 0.15,
    "reorder": True,
    "delay_seconds": 5.0,
    "jitter_seconds": 240.0,
}


async def run(ctx: Context) -> Tally:
    started = time.monotonic()
    rng = ctx.rng("webhooks")
    tally = Tally("webhooks", ctx.seed, ctx.database)
    waves = min(ctx.count(4, 2), len(LIVE_VENDORS))
    with ctx.database_url("webhooks") as url:
        async with InProcess.start(url, ctx.tmp) as env:
            h = env.w.h
            vendor_ids = env.seed_vendors(ctx.count(4, 2))
            bill_ids = [
                env.seed_bill(vendor_ids[n % len(vendor_ids)], n, rng.randint(1_00, 20_000_00))
                for n in range(ctx.count(12, 4))
            ]
            await env.register_webhooks()
            await env.backfill()

            h.freshbooks.rng.seed(f"{ctx.seed}:freshbooks-webhooks")
            h.freshbooks.webhooks.knobs.update(KNOBS)
            ramp_knobs = h.ramp.webhooks.knobs
            ramp_knobs.duplicate_rate, ramp_knobs.loss_rate, ramp_knobs.reorder = 0.3, 0.15, True
            live = list(bill_ids)
            deleted: set[int] = set()
            number = len(bill_ids)
            for wave in range(waves):
                vendor = env.books.create(
                    "bill_vendors",
                    {"vendor_name": LIVE_VENDORS[wave], "currency_code": "USD", "country": "US",
                     "province": "NY", "primary_contact_email": f"ap@live{wave}.example"},
                )  # fmt: skip
                h.clock.advance(rng.uniform(0, 20))
                for _ in range(rng.randint(2, 4)):
                    live.append(env.seed_bill(vendor.id, number, rng.randint(1_00, 20_000_00)))
                    number += 1
                    h.clock.advance(rng.uniform(0, 20))
                for bill_id in rng.sample([b for b in live if b not in deleted], k=3):
                    env.edit_bill(bill_id, rng.randint(1_00, 20_000_00))
                    h.clock.advance(rng.uniform(0, 20))
                victim = rng.choice([b for b in live if b not in deleted])
                env.delete_bill(victim)
                deleted.add(victim)
                env.seed_card_expense(100 + wave, rng.randint(5_00, 900_00))
                await env.settle()

            before = await judge_world(
                h.engine, env.books, env.ramp, card_expenses=env.card_expenses
            )
            tally.problems += await env.sweep()
            tally.faults = {
                "knobs": KNOBS,
                "before_sweep": _counts(before),
                "freshbooks_deliveries": dict(h.freshbooks.counters.webhook_deliveries),
                "ramp_deliveries": h.ramp.webhooks.counts(),
                "missed_by_webhook_found_by_sweep": await _missed(env),
            }
            tally.add(
                await judge_world(h.engine, env.books, env.ramp, card_expenses=env.card_expenses)
            )
            for detail in tally.details:
                fb_id = detail["object"].partition(":")[2]
                sent = [
                    f"{a.name} {a.outcome}@{a.at:%H:%M:%S}"
                    for a in h.freshbooks.webhooks.log
                    if a.object_id == fb_id
                ]
                detail["detail"] += f"; deliveries: {', '.join(sent)}"
                changed = env.books.bills.get(int(fb_id)) if fb_id.isdigit() else None
                if changed is not None:
                    detail["detail"] += f"; last changed in FreshBooks {changed.updated:%H:%M:%S}"
            tally.problems += integrity_problems(h.freshbooks, h.ramp)
            tally.counters = ramp_counters(h.ramp)
            if not h.freshbooks.counters.webhook_deliveries.get("lost"):
                tally.problems.append("no delivery was lost: the campaign is void")
    tally.elapsed_s = time.monotonic() - started
    return tally


def _counts(verdicts: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in verdicts:
        out[v.status] = out.get(v.status, 0) + 1
    return out


async def _missed(env: InProcess) -> int:
    async with read(env.w.h.engine) as db:
        query = sa.select(sa.func.count()).where(audit_log.c.step == "missed_by_webhook")
        return int((await db.execute(query)).scalar_one())


__all__ = ["run"]
