"""What the emulator has seen, for tests and the `/_sandbox/counters` endpoint."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counters:
    requests: Counter[str] = field(default_factory=Counter)  # "GET /route/{template}"
    statuses: Counter[str] = field(default_factory=Counter)  # "GET /route 200"
    code_exchanges: int = 0
    refreshes: int = 0
    refresh_token_reuses: int = 0
    revocations: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    webhook_deliveries: Counter[str] = field(default_factory=Counter)  # by outcome

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "code_exchanges": self.code_exchanges,
            "refreshes": self.refreshes,
            "refresh_token_reuses": self.refresh_token_reuses,
            "revocations": self.revocations,
            "faults_injected": dict(self.faults_injected),
            "webhook_deliveries": dict(self.webhook_deliveries),
        }

    def reset(self) -> None:
        self.requests.clear()
        self.statuses.clear()
        self.code_exchanges = self.refreshes = self.refresh_token_reuses = self.revocations = 0
        self.faults_injected.clear()
        self.webhook_deliveries.clear()


__all__ = ["Counters"]
