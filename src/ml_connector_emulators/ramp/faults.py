"""Faults the sandbox can inject into API routes (`/_sandbox/faults`).

A fault is armed by the control surface and spent by the request middleware: a fixed
latency, a 429 storm (for N requests or until a moment on the emulator clock), N server
errors, and "commit the next write, then drop the connection" (optionally only for one
route, written `"POST /developer/v1/bills"` or just the path template).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ml_connector_emulators.clock import EmulatorClock


@dataclass
class _Drop:
    route: str | None
    remaining: int


@dataclass
class FaultPlan:
    clock: EmulatorClock
    latency_ms: int = 0
    rate_limit_requests: int = 0
    rate_limit_until: datetime | None = None
    rate_limit_retry_after: int = 1
    server_error_requests: int = 0
    server_error_status: int = 500
    drops: list[_Drop] = field(default_factory=list)

    def arm(self, spec: dict[str, Any]) -> None:
        """Apply a validated fault spec (see `sandbox_routes` for its shape)."""
        if "latency_ms" in spec:
            self.latency_ms = int(spec["latency_ms"])
        if (storm := spec.get("rate_limit")) is not None:
            self.rate_limit_requests = int(storm.get("requests", 0))
            seconds = storm.get("seconds")
            self.rate_limit_until = (
                self.clock.now() + timedelta(seconds=float(seconds)) if seconds else None
            )
            self.rate_limit_retry_after = int(storm.get("retry_after", 1))
        if (errors := spec.get("server_error")) is not None:
            self.server_error_requests = int(errors.get("requests", 1))
            self.server_error_status = int(errors.get("status", 500))
        if (drop := spec.get("drop_after_write")) is not None:
            self.drops.append(_Drop(drop.get("route"), int(drop.get("count", 1))))

    def clear(self) -> None:
        self.latency_ms = 0
        self.rate_limit_requests = 0
        self.rate_limit_until = None
        self.server_error_requests = 0
        self.drops.clear()

    def take_rate_limit(self) -> int | None:
        """Retry-After seconds if this request falls in a 429 storm."""
        if self.rate_limit_requests > 0:
            self.rate_limit_requests -= 1
            return self.rate_limit_retry_after
        if self.rate_limit_until is not None:
            remaining = (self.rate_limit_until - self.clock.now()).total_seconds()
            if remaining > 0:
                return max(1, int(remaining + 0.999))
            self.rate_limit_until = None
        return None

    def take_server_error(self) -> int | None:
        if self.server_error_requests > 0:
            self.server_error_requests -= 1
            return self.server_error_status
        return None

    def wants_drop(self, method: str, template: str) -> bool:
        return any(_matches(d.route, method, template) for d in self.drops if d.remaining > 0)

    def spend_drop(self, method: str, template: str) -> None:
        for drop in self.drops:
            if drop.remaining > 0 and _matches(drop.route, method, template):
                drop.remaining -= 1
                break
        self.drops = [d for d in self.drops if d.remaining > 0]

    def describe(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "rate_limit": {
                "requests": self.rate_limit_requests,
                "until": self.rate_limit_until.isoformat() if self.rate_limit_until else None,
            },
            "server_error": {
                "requests": self.server_error_requests,
                "status": self.server_error_status,
            },
            "drop_after_write": [{"route": d.route, "count": d.remaining} for d in self.drops],
        }


def _matches(route: str | None, method: str, template: str) -> bool:
    if route is None:
        return True
    if " " in route:
        want_method, want_path = route.split(" ", 1)
        return want_method.upper() == method and want_path == template
    return route == template
