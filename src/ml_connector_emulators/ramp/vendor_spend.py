"""What a rendered vendor says about its bills, for every vendor in one walk over the bills.

A vendor shows whether it has bills (`is_deletable`) and its spend — bills paid in USD —
all time, over the last 30 and 365 days and this year. Each render used to walk every
bill of the business five times, so a page of vendors cost a page times five times the
bills; now one walk per request serves every vendor rendered in it. Nothing is kept
between requests: tests add and remove bills directly, and this is always right.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ml_connector_emulators.ramp.models import Business

_WINDOWS = (timedelta(days=30), timedelta(days=365))


class VendorSpend:
    """Spend as of `now`, in USD minor units: all time, 30 days, 365 days, year to date."""

    def __init__(self, business: Business, now: datetime) -> None:
        year_start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        sinces: tuple[date, ...] = (
            *((now - window).date() for window in _WINDOWS),
            year_start.date(),
        )
        bills = business.bills.values()
        self._with_bills = {bill.vendor_id for bill in bills}
        self._totals: dict[str, list[int]] = {}
        for bill in [b for b in bills if b.status == "PAID" and b.currency == "USD"]:
            amount = bill.amount_minor
            totals = self._totals.setdefault(bill.vendor_id, [0, 0, 0, 0])
            totals[0] += amount
            if bill.paid_at is not None:
                for slot, since in enumerate(sinces, start=1):
                    if bill.paid_at >= since:
                        totals[slot] += amount

    def has_bills(self, vendor_id: str) -> bool:
        return vendor_id in self._with_bills

    def totals(self, vendor_id: str) -> tuple[int, int, int, int]:
        all_time, last_30, last_365, ytd = self._totals.get(vendor_id, (0, 0, 0, 0))
        return all_time, last_30, last_365, ytd


__all__ = ["VendorSpend"]
