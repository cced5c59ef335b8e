"""Fault injection for the API surface (everything except `/_sandbox` and the consent page).

Faults are rules consumed by matching requests: added latency, 429 storms with
`Retry-After`, 5xx answers, and "drop the response after a write commits" (the write
happens, then the connection dies before the client hears back). Feature gates make a
resource answer FreshBooks' "HTTP 200 with errors" (errno 41001 bills, 31001 bill
vendors, 41101 bill payments), as accounts without the bills feature do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultRule:
    kind: str  # "latency" | "rate_limit" | "server_error" | "drop_after_commit"
    remaining: int | None  # requests still affected; None = until cleared
    path_prefix: str = ""
    methods: tuple[str, ...] = ()
    seconds: float = 0.0  # latency, or Retry-After for rate_limit
    status: int = 503

    def applies(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.methods and method not in self.methods:
            return False
        return path.startswith(self.path_prefix)

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
KINDS = ("latency", "rate_limit", "server_error", "drop_after_commit")


@dataclass
class Faults:
    rules: list[FaultRule] = field(default_factory=list)
    gated: set[str] = field(default_factory=set)  # resource kinds answering 200 + errors

    def add(
        self,
        kind: str,
        *,
        count: int | None = None,
        path_prefix: str = "",
        methods: tuple[str, ...] = (),
        seconds: float = 0.0,
        status: int = 503,
    ) -> FaultRule:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {', '.join(KINDS)}")
        if kind == "server_error" and not 500 <= status <= 599:
            raise ValueError("server_error status must be 5xx")
        if seconds < 0 or (count is not None and count < 0):
            raise ValueError("seconds and count must not be negative")
        if kind == "drop_after_commit" and not methods:
            methods = WRITE_METHODS
        rule = FaultRule(
            kind, count, path_prefix, tuple(m.upper() for m in methods), seconds, status
        )
        self.rules.append(rule)
        return rule

    def take(self, kind: str, method: str, path: str) -> FaultRule | None:
        """The first live rule of `kind` for this request, consuming one use of it."""
        for rule in self.rules:
            if rule.kind == kind and rule.applies(method, path):
                rule.consume()
                return rule
        return None

    def clear(self) -> None:
        self.rules.clear()
        self.gated.clear()

    def snapshot(self) -> dict[str, Any]:
        live = [r for r in self.rules if r.remaining is None or r.remaining > 0]
        return {"rules": [asdict(r) for r in live], "feature_gated": sorted(self.gated)}


__all__ = ["KINDS", "WRITE_METHODS", "FaultRule", "Faults"]
