"""`ml-connector reconcile`: choosing the period and the CSV an accountant opens."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from ml_connector.cli.errors import CliError
from ml_connector.cli.reconcile import choose_period, write_csv
from ml_connector.core.reconcile import Period

TODAY = date(2026, 11, 2)


def test_period_choices() -> None:
    assert choose_period("2026-10", None, None, TODAY) == Period.month("2026-10")
    assert choose_period(None, "2026-09-15", "2026-10-14", TODAY) == Period(
        date(2026, 9, 15), date(2026, 10, 14)
    )
    assert choose_period(None, None, None, TODAY) == Period.month("2026-10")


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [("2026-10", "2026-10-01", None), (None, "2026-10-01", None), ("October", None, None),
     (None, "2026-10-31", "2026-10-01")],
)  # fmt: skip
def test_bad_period_choices_are_usage_errors(
    period: str | None, start: str | None, end: str | None
) -> None:
    with pytest.raises(CliError) as caught:
        choose_period(period, start, end, TODAY)
    assert caught.value.code == 2


def test_csv_has_one_row_per_difference_with_its_reasons(tmp_path: Path) -> None:
    document = {
        "entries": [
            {
                "status": "drift_from_ramp", "fb_id": "7", "ramp_id": "r7", "vendor": "Acme",
                "issued_at": "2026-10-05", "currency": "USD", "freshbooks_amount": "100.00",
                "ramp_amount": "150.00", "healable": False, "reason": "edited in Ramp",
                "differences": [{"field": "total", "freshbooks": "100.00 USD",
                                 "ramp": "150.00 USD"}],
                "audit": "bill:7",
            }
        ]
    }  # fmt: skip
    target = tmp_path / "october.csv"
    write_csv(target, document)
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert rows[0]["ramp_amount"] == "150.00"
    assert rows[0]["differences"] == "total: FreshBooks 100.00 USD / Ramp 150.00 USD"
    assert rows[0]["audit"] == "bill:7"
