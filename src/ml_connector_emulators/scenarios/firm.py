"""The `services-firm` roster: a deterministic, realistic small services firm.

Shape (with the default seed):
- 3 departments, 9 staff with cards;
- 36 vendors, several entered twice in FreshBooks under near-duplicate names
  (`aliases`), with typical payment terms and addresses;
- about 160 purchases over 2026-08-01..2026-10-31: most paid by company card (so Ramp
  has the card transaction), some by cash or a personal card (no Ramp transaction), a few
  traps: two card charges with the same amount on the same day at the same merchant
  (ambiguous), a card charge that FreshBooks never records, and merchant descriptors that
  differ from the vendor name the way card networks do ("AMZN Mktp US" for Amazon).

Money is `Decimal` in major units; dates are calendar dates. Nothing here is random at
import time: `services_firm_roster(seed)` always returns the same roster for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

DEPARTMENTS = ("Consulting", "Design", "Operations")


@dataclass(frozen=True)
class StaffMember:
    first_name: str
    last_name: str
    email: str
    department: str


@dataclass(frozen=True)
class VendorProfile:
    """A supplier as the firm knows it.

    `name` is how the firm usually writes it; `aliases` are other spellings under which
    it was *also* entered in FreshBooks (near-duplicates a good sync must not duplicate).
    `card_descriptor` is how the merchant appears on card statements.
    """

    key: str
    name: str
    aliases: tuple[str, ...]
    card_descriptor: str
    category: str  # FreshBooks system category name its spend usually goes to
    terms_days: int  # FreshBooks due_offset_days on its bills
    email: str
    country: str
    state: str | None
    bills: bool  # sends invoices (bills) rather than being paid at the till


@dataclass(frozen=True)
class Purchase:
    """One real-world purchase.

    `paid_with`: "card" (a Ramp card transaction exists), "cash" or "personal" (none).
    `in_freshbooks`: whether someone entered it as a FreshBooks expense.
    `merchant`: the descriptor Ramp shows (card only; otherwise the vendor name).
    """

    key: str
    vendor_key: str
    staff_email: str
    department: str
    spent_on: date
    amount: Decimal
    currency: str
    paid_with: str
    in_freshbooks: bool
    merchant: str
    category: str
    note: str


@dataclass(frozen=True)
class Roster:
    departments: tuple[str, ...]
    staff: tuple[StaffMember, ...]
    vendors: tuple[VendorProfile, ...]
    purchases: tuple[Purchase, ...]

    def vendor(self, key: str) -> VendorProfile:
        return next(v for v in self.vendors if v.key == key)


_STAFF = (
    ("Maya", "Okafor", "Consulting"),
    ("Daniel", "Reyes", "Consulting"),
    ("Priya", "Nair", "Consulting"),
    ("Tomás", "Álvarez", "Design"),
    ("Hannah", "Berg", "Design"),
    ("Kenji", "Watanabe", "Design"),
    ("Sarah", "O'Connell", "Operations"),
    ("Luis", "Moreno", "Operations"),
    ("Amara", "Diallo", "Operations"),
)

# key, name, aliases, card descriptor, FreshBooks category, terms, country, state, bills
_VENDORS: tuple[tuple[str, str, tuple[str, ...], str, str, int, str, str | None, bool], ...] = (
    ("acme", "Acme, Inc.", ("ACME Inc",), "ACME INC", "Office Supplies", 30, "US", "NY", True),
    (
        "staples",
        "Staples",
        ("Staples Inc.",),
        "STAPLES 00123",
        "Office Supplies",
        0,
        "US",
        "MA",
        False,
    ),
    ("amazon", "Amazon", (), "AMZN Mktp US", "Office Supplies", 0, "US", "WA", False),
    ("adobe", "Adobe Inc.", (), "ADOBE *CREATIVE CLD", "Software", 0, "US", "CA", False),
    ("figma", "Figma", (), "FIGMA.COM", "Software", 0, "US", "CA", False),
    ("github", "GitHub, Inc.", ("Github",), "GITHUB.COM", "Software", 0, "US", "CA", False),
    ("slack", "Slack Technologies", (), "SLACK T0123", "Software", 0, "US", "CA", False),
    (
        "zoom",
        "Zoom Video Communications",
        ("Zoom",),
        "ZOOM.US 888-799-9666",
        "Software",
        0,
        "US",
        "CA",
        False,
    ),
    ("aws", "Amazon Web Services", ("AWS",), "AWS EMEA", "Hosting", 0, "US", "WA", False),
    ("delta", "Delta Air Lines", (), "DELTA AIR 0062", "Travel", 0, "US", "GA", False),
    ("united", "United Airlines", (), "UNITED 0162", "Travel", 0, "US", "IL", False),
    ("marriott", "Marriott Hotels", (), "MARRIOTT NYC", "Lodging", 0, "US", "MD", False),
    ("hilton", "Hilton", (), "HILTON HOTELS", "Lodging", 0, "US", "VA", False),
    ("uber", "Uber", (), "UBER *TRIP", "Car & Truck Expenses", 0, "US", "CA", False),
    ("lyft", "Lyft", (), "LYFT *RIDE", "Car & Truck Expenses", 0, "US", "CA", False),
    (
        "cafe",
        "Café Olé",
        ("Cafe Ole",),
        "CAFE OLE",
        "Meals and Entertainment",
        0,
        "US",
        "NY",
        False,
    ),
    (
        "bluebottle",
        "Blue Bottle Coffee",
        (),
        "BLUE BOTTLE COFFEE",
        "Meals and Entertainment",
        0,
        "US",
        "CA",
        False,
    ),
    (
        "sweetgreen",
        "Sweetgreen",
        (),
        "SWEETGREEN NYC",
        "Meals and Entertainment",
        0,
        "US",
        "NY",
        False,
    ),
    ("wework", "WeWork", (), "WEWORK", "Rent or Lease", 30, "US", "NY", True),
    (
        "regus",
        "Regus Management Group, LLC",
        ("Regus",),
        "REGUS",
        "Rent or Lease",
        15,
        "US",
        "TX",
        True,
    ),
    ("comcast", "Comcast Business", (), "COMCAST BUSINESS", "Utilities", 15, "US", "PA", True),
    ("verizon", "Verizon Wireless", (), "VZWRLSS*APOCC VISN", "Telephone", 30, "US", "NJ", True),
    ("coned", "Con Edison", ("ConEd",), "CONED", "Utilities", 15, "US", "NY", True),
    ("fedex", "FedEx", (), "FEDEX 7734", "Shipping", 0, "US", "TN", False),
    (
        "ups",
        "The UPS Store",
        ("UPS Store",),
        "THE UPS STORE 1234",
        "Shipping",
        0,
        "US",
        "GA",
        False,
    ),
    (
        "grant",
        "Grant & Sons Legal LLP",
        ("Grant and Sons Legal",),
        "GRANT SONS LEGAL",
        "Legal Fees",
        30,
        "US",
        "NY",
        True,
    ),
    ("kpmg", "Baker Tilly Accountants", (), "BAKER TILLY", "Accounting", 45, "US", "IL", True),
    ("gusto", "Gusto", (), "GUSTO", "Payroll Service Fees", 0, "US", "CA", False),
    (
        "hartford",
        "The Hartford",
        ("Hartford Insurance",),
        "THE HARTFORD",
        "Insurance",
        30,
        "US",
        "CT",
        True,
    ),
    (
        "printco",
        "PrintCo Graphics Ltd",
        ("Printco Graphics",),
        "PRINTCO",
        "Printing",
        30,
        "GB",
        None,
        True,
    ),
    ("freelance1", "Ana Souza Design", (), "ANA SOUZA", "Contractors", 15, "BR", None, True),
    (
        "freelance2",
        "Northwind Studio GmbH",
        ("Northwind Studio",),
        "NORTHWIND STUDIO",
        "Contractors",
        30,
        "DE",
        None,
        True,
    ),
    ("meetup", "Meetup", (), "MEETUP.COM", "Advertising", 0, "US", "NY", False),
    (
        "linkedin",
        "LinkedIn Corporation",
        ("LinkedIn",),
        "LINKEDIN ADS",
        "Advertising",
        0,
        "US",
        "CA",
        False,
    ),
    ("bestbuy", "Best Buy", (), "BEST BUY 00042", "Computer Equipment", 0, "US", "MN", False),
    ("apple", "Apple Store", (), "APPLE STORE R102", "Computer Equipment", 0, "US", "CA", False),
)

_AMOUNT_RANGE: dict[str, tuple[int, int]] = {
    "Office Supplies": (1200, 35000),
    "Software": (1500, 60000),
    "Hosting": (5000, 250000),
    "Travel": (18000, 95000),
    "Lodging": (15000, 120000),
    "Car & Truck Expenses": (900, 8500),
    "Meals and Entertainment": (650, 42000),
    "Shipping": (1100, 15000),
    "Advertising": (2500, 150000),
    "Computer Equipment": (2900, 329900),
    "Payroll Service Fees": (3900, 19900),
}


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def services_firm_roster(seed: int = 2026) -> Roster:
    """The deterministic roster for `seed` (see module docs for its shape)."""
    rng = random.Random(seed)
    staff = tuple(
        StaffMember(first, last, f"{_slug(first)}.{_slug(last)}@northbeam.example", dept)
        for first, last, dept in _STAFF
    )
    vendors = tuple(
        VendorProfile(
            key=key,
            name=name,
            aliases=aliases,
            card_descriptor=descriptor,
            category=category,
            terms_days=terms,
            email=f"billing@{_slug(name)[:18]}.example",
            country=country,
            state=state,
            bills=bills,
        )
        for key, name, aliases, descriptor, category, terms, country, state, bills in _VENDORS
    )
    till_vendors = [v for v in vendors if not v.bills]
    start = date(2026, 8, 1)
    purchases: list[Purchase] = []
    for index in range(150):
        vendor = rng.choice(till_vendors)
        person = rng.choice(staff)
        low, high = _AMOUNT_RANGE.get(vendor.category, (1000, 50000))
        cents = rng.randint(low, high)
        paid_with = rng.choices(("card", "cash", "personal"), weights=(85, 8, 7))[0]
        purchases.append(
            Purchase(
                key=f"p{index:04d}",
                vendor_key=vendor.key,
                staff_email=person.email,
                department=person.department,
                spent_on=start + timedelta(days=rng.randrange(92)),
                amount=Decimal(cents).scaleb(-2),
                currency="USD",
                paid_with=paid_with,
                in_freshbooks=True,
                merchant=vendor.card_descriptor if paid_with == "card" else vendor.name,
                category=vendor.category,
                note=f"{vendor.name} — {person.first_name}",
            )
        )
    # Traps a demanding reviewer would plant.
    twin_day = date(2026, 10, 14)
    uber = next(v for v in vendors if v.key == "uber")
    cafe = next(v for v in vendors if v.key == "cafe")
    consultant = staff[0]
    for suffix in ("a", "b"):
        purchases.append(
            Purchase(
                key=f"twin-{suffix}",
                vendor_key=uber.key,
                staff_email=consultant.email,
                department=consultant.department,
                spent_on=twin_day,
                amount=Decimal("23.40"),
                currency="USD",
                paid_with="card",
                in_freshbooks=suffix == "a",  # only one of the twins is in FreshBooks
                merchant=uber.card_descriptor,
                category=uber.category,
                note="Two identical rides on one day: the match is ambiguous",
            )
        )
    purchases.append(
        Purchase(
            key="unrecorded",
            vendor_key=cafe.key,
            staff_email=staff[3].email,
            department=staff[3].department,
            spent_on=date(2026, 10, 20),
            amount=Decimal("48.75"),
            currency="USD",
            paid_with="card",
            in_freshbooks=False,
            merchant=cafe.card_descriptor,
            category=cafe.category,
            note="A card charge nobody entered in FreshBooks",
        )
    )
    purchases.sort(key=lambda p: (p.spent_on, p.key))
    return Roster(departments=DEPARTMENTS, staff=staff, vendors=vendors, purchases=tuple(purchases))


__all__ = [
    "DEPARTMENTS",
    "Purchase",
    "Roster",
    "StaffMember",
    "VendorProfile",
    "services_firm_roster",
]
