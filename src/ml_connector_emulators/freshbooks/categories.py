"""The system chart of expense categories every FreshBooks account starts with.

Modelled on FreshBooks' default chart: top-level headings with system children, all
`is_editable: false`. The names include every category the shared services-firm roster
spends on, so seeded bills and expenses point at real system categories; a firm's own
custom categories are added as editable children by the scenario.
"""

from __future__ import annotations

# (parent, children); a heading with no children is itself a leaf category.
SYSTEM_CHART: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Advertising", ()),
    (
        "Car & Truck Expenses",
        ("Gas", "Mileage", "Parking", "Repairs & Maintenance - Vehicle", "Vehicle Insurance"),
    ),
    ("Contractors", ()),
    ("Education and Training", ()),
    ("Employee Benefits", ("Accident Insurance", "Health Insurance", "Life Insurance")),
    ("Meals and Entertainment", ("Entertainment", "Restaurants/Dining")),
    (
        "Office Expenses & Postage",
        (
            "Computer Equipment",
            "Hosting",
            "Office Supplies",
            "Packaging",
            "Postage",
            "Printing",
            "Shipping",
            "Software",
            "Stationery",
        ),
    ),
    (
        "Other Expenses",
        (
            "Bank Fees",
            "Business Insurance",
            "Commissions",
            "Depreciation",
            "Insurance",
            "Interest - Mortgage",
            "Interest - Other",
            "Online Services",
            "Reference Materials",
            "Repairs & Maintenance",
            "Subscriptions/Dues/Memberships",
            "Taxes & Licenses",
            "Wages",
        ),
    ),
    ("Personal", ()),
    (
        "Professional Services",
        ("Accounting", "Legal Fees", "Payroll Service Fees"),
    ),
    ("Rent or Lease", ("Equipment", "Machinery", "Office Space", "Vehicles")),
    ("Supplies", ()),
    ("Travel", ("Airfare", "Lodging", "Taxi & Parking")),
    ("Utilities", ("Gas & Electrical", "Telephone")),
)

COGS_HEADINGS = frozenset({"Supplies"})

__all__ = ["COGS_HEADINGS", "SYSTEM_CHART"]
