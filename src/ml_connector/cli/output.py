"""How commands print: Rich tables for people, one JSON document for `--json`.

With `--json`, stdout carries exactly one JSON value (so `| jq` always works) and
anything meant for a person goes to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

PIPE_WIDTH = 200


def jsonable(value: Any) -> Any:  # noqa: PLR0911 - one case per type
    """`value` as plain JSON types: dates ISO 8601, money as exact decimal strings."""
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [jsonable(v) for v in value]
    return str(value)


class Output:
    """The command's voice; `json_mode` decides who hears what."""

    def __init__(self, *, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        # Created per command so that test runners that swap sys.stdout are honoured.
        # Piped output (logs, `less`, CI) gets wide tables rather than folded cells.
        # No emoji codes: ids such as ``freshbooks:x:bill:1`` must print as they are.
        self.out = Console(
            highlight=False, emoji=False, width=None if sys.stdout.isatty() else PIPE_WIDTH
        )
        self.err = Console(
            stderr=True,
            highlight=False,
            emoji=False,
            width=None if sys.stderr.isatty() else PIPE_WIDTH,
        )

    def emit_json(self, value: Any) -> None:
        self.out.file.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")

    def say(self, text: str = "", *, style: str | None = None) -> None:
        """A line for people: stdout normally, stderr in JSON mode."""
        console = self.err if self.json_mode else self.out
        console.print(escape(text), style=style)

    def note(self, text: str) -> None:
        """Progress and side remarks: always stderr."""
        self.err.print(escape(text), style="dim")

    def warn(self, text: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(text)}")

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        title: str | None = None,
    ) -> None:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(_cell(v)) for v in row))
        console = self.err if self.json_mode else self.out
        console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


__all__ = ["Output", "jsonable"]
