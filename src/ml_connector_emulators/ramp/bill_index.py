"""Bills by `remote_id`, so that counting duplicate creates does not scan every bill.

Each `POST /bills` asks whether a live bill already carries the new bill's `remote_id`
(the `duplicate_bills_by_remote_id` counter — the figure fault campaigns check the
product against). Asked of every bill, that made a 100,000-bill backfill quadratic.

The routes report the bills they store or re-key (`added`, `rekeyed`); an entry is
checked against the bill as it is now before it counts (still stored, same `remote_id`,
not archived), so archiving or removing a bill needs no report. Bills put into or taken
out of `Business.bills` directly (tests do) change its size, which rebuilds the index;
code that changes a stored bill's `remote_id` without a route must call `rekeyed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml_connector_emulators.ramp.models import Bill


class BillsByRemoteId:
    def __init__(self) -> None:
        self._bills: dict[str, dict[str, Bill]] = {}
        self._size = 0

    def live_with(self, bills: dict[str, Bill], remote_id: str) -> bool:
        """Whether a stored, unarchived bill carries `remote_id`."""
        if len(bills) != self._size:
            self._rebuild(bills)
        return any(
            bills.get(bill.id) is bill and bill.remote_id == remote_id and bill.archived_at is None
            for bill in self._bills.get(remote_id, {}).values()
        )

    def added(self, bills: dict[str, Bill], bill: Bill) -> None:
        """After `bill` was stored in `bills`."""
        if len(bills) != self._size + 1:
            self._rebuild(bills)
            return
        self._size += 1
        self.rekeyed(bill)

    def rekeyed(self, bill: Bill) -> None:
        if bill.remote_id:
            self._bills.setdefault(bill.remote_id, {})[bill.id] = bill

    def _rebuild(self, bills: dict[str, Bill]) -> None:
        self._bills = {}
        self._size = len(bills)
        for bill in bills.values():
            self.rekeyed(bill)


__all__ = ["BillsByRemoteId"]
