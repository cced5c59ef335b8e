"""Export a period of the audit trail for auditors, as CSV or JSON Lines, and read it back.

An export is self-checking: every row carries its `prev_hash` and `entry_hash`, so an
auditor (or `check_export`) can recompute each hash from the row's own fields and follow
each chain's links inside the period without access to the database. A chain's first
row in the period follows a row outside it; its `prev_hash` is the anchor to the rows
before (compare it with an earlier export or a published checkpoint).

The two formats hold the same fields. In CSV, `detail` is the canonical JSON text the
hash was computed over, timestamps are ISO 8601 with their UTC offset, and an empty cell
is a missing value (audit ids are never empty strings).
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.audit import AuditEntry, canonical
from ml_connector.store.audit_verify import AuditProblem, check_entries
from ml_connector.store.schema import audit_log

FIELDS = (
    "id",
    "connection_id",
    "chain",
    "seq",
    "object_type",
    "fb_id",
    "ramp_id",
    "step",
    "actor",
    "job_id",
    "at",
    "detail",
    "prev_hash",
    "entry_hash",
)
_INTS = ("id", "connection_id", "seq", "job_id")
_BATCH = 1000


class ExportFormatError(ValueError):
    """A file that is not an audit export (names the line)."""


async def period(
    db: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    connection_id: int | None = None,
) -> AsyncIterator[AuditEntry]:
    """Entries with `start <= at < end`, in chain order (each chain oldest first)."""
    query = (
        sa.select(audit_log)
        .where(audit_log.c.at >= start, audit_log.c.at < end)
        .order_by(audit_log.c.chain, audit_log.c.seq)
    )
    if connection_id is not None:
        query = query.where(audit_log.c.connection_id == connection_id)
    result = await db.stream(query.execution_options(yield_per=_BATCH))
    async for row in result:
        yield AuditEntry.from_row(row)


def record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as a JSON object (the JSON Lines line, before encoding)."""
    out: dict[str, Any] = {name: getattr(entry, name) for name in FIELDS}
    out["at"] = entry.at.isoformat()
    return out


def write_jsonl(entries: Iterable[AuditEntry], out: IO[str]) -> int:
    count = 0
    for entry in entries:
        out.write(canonical(record(entry)) + "\n")
        count += 1
    return count


def write_csv(entries: Iterable[AuditEntry], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    count = 0
    for entry in entries:
        values = record(entry)
        values["detail"] = canonical(entry.detail)
        writer.writerow(["" if values[name] is None else values[name] for name in FIELDS])
        count += 1
    return count


def _entry(values: dict[str, Any], where: str) -> AuditEntry:
    missing = [name for name in FIELDS if name not in values]
    if missing:
        raise ExportFormatError(f"{where}: missing field(s) {', '.join(missing)}")
    try:
        parsed = dict(values)
        parsed["at"] = datetime.fromisoformat(str(values["at"]))
        for name in _INTS:
            parsed[name] = None if values[name] is None else int(values[name])
        return AuditEntry(**{name: parsed[name] for name in FIELDS})
    except (TypeError, ValueError) as exc:
        raise ExportFormatError(f"{where}: {exc}") from None


def read_jsonl(lines: Iterable[str]) -> Iterator[AuditEntry]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExportFormatError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(values, dict):
            raise ExportFormatError(f"line {number}: not a JSON object")
        yield _entry(values, f"line {number}")


def read_csv(lines: Iterable[str]) -> Iterator[AuditEntry]:
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or tuple(reader.fieldnames) != FIELDS:
        raise ExportFormatError(f"line 1: the header must be {','.join(FIELDS)}")
    for row in reader:
        where = f"line {reader.line_num}"
        values: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
        try:
            values["detail"] = json.loads(row["detail"])
        except (json.JSONDecodeError, TypeError) as exc:
            raise ExportFormatError(f"{where}: detail is not JSON ({exc})") from None
        yield _entry(values, where)


def check_export(entries: Iterable[AuditEntry]) -> list[AuditProblem]:
    """Problems in an exported period: every hash recomputed, every in-period link followed."""
    return check_entries(entries, anchored=False)


__all__ = [
    "FIELDS",
    "ExportFormatError",
    "check_export",
    "period",
    "read_csv",
    "read_jsonl",
    "record",
    "write_csv",
    "write_jsonl",
]
