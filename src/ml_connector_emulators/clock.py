"""A controllable clock shared by both emulators (driven by `/_sandbox/clock` and tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """Wall time plus an offset, or a frozen instant. `now()` is always aware UTC."""

    def __init__(self, frozen: datetime | None = None) -> None:
        self._offset = timedelta(0)
        self._frozen = frozen

    def now(self) -> datetime:
        base = self._frozen if self._frozen is not None else datetime.now(UTC)
        return base + self._offset

    def advance(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen = at or self.now()
        self._offset = timedelta(0)

    def unfreeze(self) -> None:
        self._frozen = None
