"""Verify the whole audit trail: every chain's links and hashes, and every checkpoint.

What is caught, and how:
- a row edited in place: its `entry_hash` no longer matches its fields;
- a row deleted from the middle of a chain: a `seq` gap and a broken `prev_hash` link;
- a chain's newest rows, or a whole chain, deleted: a head some checkpoint recorded is
  gone (or its row now carries another hash, if the seq was reused by later appends);
- a checkpoint edited or deleted: the checkpoints' own chain breaks.

Problems name the object (from the chain key, which survives even when every row of the
chain is gone), so an operator knows whose history was touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.audit import GENESIS, AuditEntry, ChainName, expected_hash, parse_chain
from ml_connector.store.audit_checkpoints import (
    Checkpoint,
    all_checkpoints,
    expected_checkpoint_hash,
)
from ml_connector.store.schema import audit_log

CHECKPOINTS = "checkpoints"
"""The pseudo-chain name problems of the checkpoints' own chain are filed under."""

_BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class AuditProblem:
    chain: str
    reason: str

    @property
    def subject(self) -> ChainName | None:
        return None if self.chain == CHECKPOINTS else parse_chain(self.chain)

    def __str__(self) -> str:
        who = "audit checkpoints" if self.subject is None else str(self.subject)
        return f"{who}: {self.reason}"


@dataclass(kw_only=True)
class VerifyReport:
    chains: int = 0
    entries: int = 0
    checkpoints: int = 0
    heads_checked: int = 0
    problems: list[AuditProblem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def broken_chains(self) -> list[str]:
        """Chains with at least one problem, in the order first found."""
        return list(dict.fromkeys(p.chain for p in self.problems))


@dataclass
class _ChainState:
    chain: str
    expected_seq: int = 1
    prev: str = GENESIS
    hashes: dict[int, str] = field(default_factory=dict)


def check_entries(entries: Iterable[AuditEntry], *, anchored: bool = True) -> list[AuditProblem]:
    """Problems in rows given oldest first per chain (chains may interleave).

    `anchored=False` is for an export of a period: a chain's first row there may follow
    rows outside the period, so its `seq` and `prev_hash` are taken as given and only
    what follows is checked against it.
    """
    problems: list[AuditProblem] = []
    states: dict[str, _ChainState] = {}
    for entry in entries:
        state = states.get(entry.chain)
        if state is None:
            state = states[entry.chain] = _ChainState(entry.chain)
            if not anchored:
                state.expected_seq, state.prev = entry.seq, entry.prev_hash
        problems.extend(_check(state, entry))
    return problems


def _check(state: _ChainState, entry: AuditEntry) -> list[AuditProblem]:
    out: list[AuditProblem] = []
    if entry.seq != state.expected_seq:
        missing = (
            f"entry {state.expected_seq} is missing"
            if entry.seq > state.expected_seq
            else f"entry {entry.seq} appears out of order"
        )
        out.append(AuditProblem(chain=state.chain, reason=f"{missing} (found {entry.seq} next)"))
    if entry.prev_hash != state.prev:
        out.append(
            AuditProblem(
                chain=state.chain, reason=f"entry {entry.seq} does not follow the entry before it"
            )
        )
    if expected_hash(entry) != entry.entry_hash:
        out.append(
            AuditProblem(
                chain=state.chain, reason=f"entry {entry.seq} was altered after it was written"
            )
        )
    state.expected_seq = entry.seq + 1
    state.prev = entry.entry_hash
    state.hashes[entry.seq] = entry.entry_hash
    return out


def _check_checkpoints(checkpoints: list[Checkpoint]) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    prev = GENESIS
    for expected_seq, checkpoint in enumerate(checkpoints, start=1):
        if checkpoint.seq != expected_seq:
            problems.append(
                AuditProblem(chain=CHECKPOINTS, reason=f"checkpoint {expected_seq} is missing")
            )
        if checkpoint.prev_hash != prev:
            problems.append(
                AuditProblem(
                    chain=CHECKPOINTS,
                    reason=f"checkpoint {checkpoint.seq} does not follow the one before it",
                )
            )
        if expected_checkpoint_hash(checkpoint) != checkpoint.checkpoint_hash:
            problems.append(
                AuditProblem(
                    chain=CHECKPOINTS,
                    reason=f"checkpoint {checkpoint.seq} was altered after it was written",
                )
            )
        prev = checkpoint.checkpoint_hash
    return problems


def _claims(
    checkpoints: list[Checkpoint], connection_id: int | None
) -> dict[str, list[tuple[int, str, int]]]:
    """chain → every (seq, entry_hash, checkpoint seq) any checkpoint recorded for it."""
    out: dict[str, list[tuple[int, str, int]]] = {}
    for checkpoint in checkpoints:
        for chain, (seq, hash_) in checkpoint.heads.items():
            if connection_id is not None and parse_chain(chain).connection_id != connection_id:
                continue
            out.setdefault(chain, []).append((seq, hash_, checkpoint.seq))
    return out


def _check_claims(
    state: _ChainState | None, chain: str, claims: list[tuple[int, str, int]]
) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    for seq, hash_, checkpoint_seq in claims:
        found = None if state is None else state.hashes.get(seq)
        if state is None:
            reason = f"every entry is gone (checkpoint {checkpoint_seq} recorded {seq})"
        elif found is None:
            reason = f"entry {seq}, recorded by checkpoint {checkpoint_seq}, was deleted"
        elif found != hash_:
            reason = f"entry {seq} is not the one checkpoint {checkpoint_seq} recorded"
        else:
            continue
        problems.append(AuditProblem(chain=chain, reason=reason))
        if state is None:
            break  # one line per vanished chain is enough
    return problems


async def verify_all(db: AsyncConnection, *, connection_id: int | None = None) -> VerifyReport:
    """Check every chain (of one connection, or all) against itself and the checkpoints."""
    report = VerifyReport()
    checkpoints = await all_checkpoints(db)
    report.checkpoints = len(checkpoints)
    report.problems.extend(_check_checkpoints(checkpoints))
    claims = _claims(checkpoints, connection_id)
    query = sa.select(audit_log).order_by(audit_log.c.chain, audit_log.c.seq)
    if connection_id is not None:
        query = query.where(audit_log.c.connection_id == connection_id)
    seen: set[str] = set()
    state: _ChainState | None = None

    def close(finished: _ChainState) -> None:
        report.problems.extend(
            _check_claims(finished, finished.chain, claims.get(finished.chain, []))
        )
        report.heads_checked += len(claims.get(finished.chain, []))

    result = await db.stream(query.execution_options(yield_per=_BATCH))
    async for row in result:
        entry = AuditEntry.from_row(row)
        report.entries += 1
        if state is None or entry.chain != state.chain:
            if state is not None:
                close(state)
            state = _ChainState(entry.chain)
            seen.add(entry.chain)
            report.chains += 1
        report.problems.extend(_check(state, entry))
    if state is not None:
        close(state)
    for chain in sorted(set(claims) - seen):
        report.problems.extend(_check_claims(None, chain, claims[chain]))
        report.heads_checked += len(claims[chain])
    return report


__all__ = ["CHECKPOINTS", "AuditProblem", "VerifyReport", "check_entries", "verify_all"]
