"""429 storms: Ramp refuses request after request, at seeded moments, with `Retry-After`.

On top of the emulator's own rolling limit (200 requests / 10 s per business), storms of
seeded length and `Retry-After` are armed between small batches of jobs all through a
backfill, then through a round of live edits delivered by webhook. The connector must
wait as told, keep its own shared budget, and finish everything exactly once.
"""

from __future__ import annotations

import time

from chaos.context import Context
from chaos.inproc import InProcess
from chaos.tally import Tally, integrity_problems, judge_world, ramp_counters

BATCH = 6
"""Jobs run between two chances of a new storm."""
RETRY_AFTER = (1, 1, 2, 3, 90, 300)


async def run(ctx: Context) -> Tally:
    started = time.monotonic()
    rng = ctx.rng("429-storms")
    tally = Tally("429-storms", ctx.seed, ctx.database)
    vendors, bills, cards = ctx.count(8, 3), ctx.count(40, 10), ctx.count(8, 3)
    storms: list[dict[str, int]] = []
    max_storms = ctx.count(12, 6)
    with ctx.database_url("429-storms") as url:
        async with InProcess.start(url, ctx.tmp) as env:
            vendor_ids = env.seed_vendors(vendors)
            bill_ids = [
                env.seed_bill(vendor_ids[n % vendors], n, rng.randint(1_00, 50_000_00))
                for n in range(bills)
            ]
            for n in range(cards):
                env.seed_card_expense(n, rng.randint(5_00, 900_00))
            await env.register_webhooks()

            async def maybe_storm(_round: int) -> None:
                if len(storms) < max_storms and rng.random() < 0.3:
                    # Short hints are waited out inside the call; ones past the client's
                    # 60 s ceiling hand the job back to the queue to retry later.
                    wait = rng.choice(RETRY_AFTER)
                    storm = {"requests": rng.randint(3, 30), "retry_after": wait}
                    env.w.h.ramp.faults.arm({"rate_limit": storm})
                    storms.append(storm)

            await env.backfill(each_round=maybe_storm, max_jobs=BATCH)
            for bill_id in rng.sample(bill_ids, k=bills // 2):
                env.edit_bill(bill_id, rng.randint(1_00, 50_000_00))
            await env.settle(each_round=maybe_storm, max_jobs=BATCH)

            limiter = env.w.h.ramp.limiter
            tally.faults = {
                "storms": len(storms),
                "storm_requests": sum(s["requests"] for s in storms),
                "max_retry_after": max((s["retry_after"] for s in storms), default=0),
                "max_requests_in_10s": dict(limiter.max_seen),
            }
            tally.add(
                await judge_world(env.w.h.engine, env.books, env.ramp,
                                  card_expenses=env.card_expenses)
            )  # fmt: skip
            tally.problems += integrity_problems(env.w.h.freshbooks, env.w.h.ramp)
            tally.counters = ramp_counters(env.w.h.ramp)
            tally.faults["storm_429s_served"] = tally.counters["faults_injected"]
            if not tally.counters["faults_injected"]:
                tally.problems.append("no request was ever refused: the campaign is void")
    tally.elapsed_s = time.monotonic() - started
    return tally


__all__ = ["run"]
