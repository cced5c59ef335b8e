"""The reference data behind the coverage report printed in docs/flow-config.md.

`python tests/unit/core/flow_doc.py` prints the report for the doc's sample
configuration; test_flow_config.py checks the doc shows exactly this text.
"""

from __future__ import annotations

import re
from pathlib import Path

from ml_connector.core.flow_config import FlowConfig, load_flow_config
from ml_connector.core.gl import build_gl_map, coverage_report, render_coverage_report
from ml_connector.core.model import Category, GLAccount

DOC = Path(__file__).resolve().parents[3] / "docs" / "flow-config.md"

# FreshBooks categories of the sample firm (id, name, parent id)
CATEGORIES = tuple(
    Category(id=i, name=n, parent_id=p)
    for i, n, p in (
        ("2001", "Advertising", None),
        ("2002", "Car & Truck Expenses", None),
        ("2003", "Gas", "2002"),
        ("2004", "Parking & Tolls", "2002"),
        ("2005", "Office Expenses & Postage", None),
        ("2006", "Office Supplies", "2005"),
        ("2007", "Shipping", "2005"),
        ("2008", "Travel", None),
        ("2009", "Airfare", "2008"),
        ("2010", "Lodging", "2008"),
        ("2011", "Meals and Entertainment", None),
        ("2012", "Rent or Lease", None),
        ("2013", "Utilities", None),
        ("2014", "Telephone", "2013"),
        ("2016", "Software", None),
        ("2017", "Hosting", None),
        ("2018", "Professional Services", None),
    )
)

# GL accounts uploaded to Ramp (remote id = code here)
GL_ACCOUNTS = tuple(
    GLAccount(id=c, code=c, name=n, active=a)
    for c, n, a in (
        ("2200", "Sales Tax Payable", True),
        ("2210", "GST Payable", True),
        ("6200", "Auto & Vehicle", True),
        ("6210", "Travel:Airfare", True),
        ("6220", "Travel:Lodging", True),
        ("6230", "Meals & Entertainment", True),
        ("6300", "Office Supplies", True),
        ("6310", "Postage & Shipping", True),
        ("6400", "Rent", True),
        ("6500", "Utilities", True),
        ("6510", "Telephone & Internet", True),
        ("6600", "Software Subscriptions", True),
        ("6610", "Cloud Hosting", False),
        ("6700", "Professional Fees", True),
    )
)

# How often each category was used by the bills and expenses of the last 90 days
USAGE = {
    "2006": 23, "2007": 5, "2003": 7, "2004": 3, "2009": 12, "2010": 9, "2011": 31,
    "2012": 3, "2014": 6, "2016": 41, "2017": 14, "2018": 2,
}  # fmt: skip


def fenced_block(marker: str, text: str) -> str:
    """The body of the first fenced code block after ``<!-- marker -->`` in `text`."""
    found = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)```", text, re.S)
    assert found is not None, f"no block after <!-- {marker} --> in the doc"
    return found[1]


def sample_config(doc_text: str) -> FlowConfig:
    loaded = load_flow_config(fenced_block("sample-flow-config", doc_text), source="sample")
    assert isinstance(loaded, FlowConfig), str(loaded)
    return loaded


def sample_report(config: FlowConfig) -> str:
    gl = build_gl_map(
        [m.rule() for m in config.gl.mappings], CATEGORIES, GL_ACCOUNTS, config.gl.suspense_account
    )
    return render_coverage_report(coverage_report(gl, USAGE))


if __name__ == "__main__":
    print(sample_report(sample_config(DOC.read_text(encoding="utf-8"))), end="")
