"""Freshness and webhook health, from what the audit trail recorded. Pure.

Freshness is the time from a change in FreshBooks (the object's own `updated` stamp, as
fetched) to the first Ramp write that carried it. Only changes the live pipeline found
count — announced by a webhook or caught by the sweep — not the backfill of old objects
or manual re-pushes, whose "change" happened long before anyone asked.

The webhook miss rate is the share of those changes that the sweep found first: each
object sync records who enqueued it (`received` step, `source`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "LIVE_SOURCES",
    "ConnectionFreshness",
    "FreshnessSample",
    "miss_rate",
    "percentile",
    "summarize",
]

LIVE_SOURCES = ("webhook", "sweep")


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshnessSample:
    connection_id: int
    object_type: str
    source: str
    changed_at: datetime
    written_at: datetime

    @property
    def seconds(self) -> float:
        # Clocks differ a little between FreshBooks and us; a write never precedes its change.
        return max((self.written_at - self.changed_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFreshness:
    connection_id: int
    writes: int
    p50_seconds: float | None
    p95_seconds: float | None
    webhook_changes: int
    sweep_changes: int

    @property
    def miss_rate(self) -> float | None:
        return miss_rate(self.webhook_changes, self.sweep_changes)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def miss_rate(webhook: int, sweep: int) -> float | None:
    """Share of live changes first seen by the sweep; None before any change."""
    total = webhook + sweep
    return None if total == 0 else sweep / total


def summarize(
    samples: Iterable[FreshnessSample], first_seen: dict[tuple[int, str], int]
) -> dict[int, ConnectionFreshness]:
    """Per connection: p50/p95 freshness and the changes first seen per source."""
    by_connection: dict[int, list[float]] = {}
    for sample in samples:
        by_connection.setdefault(sample.connection_id, []).append(sample.seconds)
    ids = set(by_connection) | {cid for cid, _ in first_seen}
    return {
        cid: ConnectionFreshness(
            connection_id=cid,
            writes=len(by_connection.get(cid, [])),
            p50_seconds=percentile(by_connection.get(cid, []), 50),
            p95_seconds=percentile(by_connection.get(cid, []), 95),
            webhook_changes=first_seen.get((cid, "webhook"), 0),
            sweep_changes=first_seen.get((cid, "sweep"), 0),
        )
        for cid in sorted(ids)
    }
