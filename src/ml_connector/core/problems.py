"""Problem values: how the mapping core reports bad data without raising.

Pure; no I/O. Every mapping function in `core` is total: for any input it returns either
its result or a `Problem` (or several) with a machine-readable `code` and a reason a
clerk can act on. Exceptions are kept for programming errors, never for data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Problem", "describe_problems", "problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an object cannot be mapped as it stands.

    Attributes:
        code: dotted machine code, stable across releases (e.g. ``money.excess_precision``).
        reason: a specific sentence for humans; names the value and what to do.
        field: where in the source object the problem sits (``lines[2].unit_cost``), if known.
    """

    code: str
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.reason} [{self.code}]"

    def at(self, field: str) -> Problem:
        """The same problem located under `field` (prefixing any existing location)."""
        located = f"{field}.{self.field}" if self.field else field
        return Problem(self.code, self.reason, located)


def problem(code: str, reason: str, field: str | None = None) -> Problem:
    """Shorthand constructor that reads well at call sites."""
    return Problem(code, reason, field)


def describe_problems(problems: Iterable[Problem]) -> str:
    """One human-readable line per problem, in input order."""
    return "; ".join(str(p) for p in problems)
