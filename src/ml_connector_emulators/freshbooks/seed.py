"""The `services-firm` scenario in FreshBooks, built from the shared roster.

- staff: the roster's nine people (the test user is the owner, staff id 1);
- bill vendors: every roster vendor, plus each alias as its own near-duplicate vendor;
- bills: a few hundred from the vendors that invoice (`bills=True`), Aug–Oct 2026, due
  after the vendor's `terms_days`, with lines on several categories, sales tax or VAT
  on some, most older ones paid, some partially, a few deleted or archived;
- expenses: one per roster purchase entered in FreshBooks, with the roster's amount,
  date, category, staff and vendor name. How it was paid is kept where FreshBooks keeps
  such things: card purchases carry the card feed's `account_name`/`bank_name`, and every
  expense's `notes` ends with `Paid with: company card|cash|personal card`.

Amounts and dates of purchases are never changed: the Ramp emulator seeds its card
transactions from the same roster. Everything else is drawn from a seeded generator
separate from the roster's, so the roster stays the same whatever we do here.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from ml_connector_emulators.freshbooks.books import Books
from ml_connector_emulators.freshbooks.formats import EASTERN, to_cents
from ml_connector_emulators.freshbooks.records import Staff
from ml_connector_emulators.scenarios import Purchase, VendorProfile, services_firm_roster

SEED_START = date(2026, 8, 1)
SEED_DAYS = 92
PAID_WITH_TEXT = {"card": "company card", "cash": "cash", "personal": "personal card"}
CARD_FEED_ACCOUNT = ("Ramp Visa Commercial ••4417", "Ramp")

_CURRENCY_BY_COUNTRY = {"GB": "GBP", "DE": "EUR"}
# Bills per vendor over the quarter (weekly supplies and timesheets, monthly rent and
# utilities, the odd legal or audit invoice).
_BILLS_PER_VENDOR = {
    "acme": 48,
    "wework": 20,
    "regus": 12,
    "comcast": 9,
    "verizon": 9,
    "coned": 9,
    "grant": 16,
    "kpmg": 10,
    "hartford": 6,
    "printco": 30,
    "freelance1": 44,
    "freelance2": 30,
}
_SECONDARY_CATEGORIES = {
    "Office Supplies": ("Shipping", "Stationery", "Computer Equipment"),
    "Rent or Lease": ("Office Space", "Utilities", "Repairs & Maintenance"),
    "Utilities": ("Gas & Electrical", "Taxes & Licenses"),
    "Telephone": ("Computer Equipment", "Taxes & Licenses"),
    "Legal Fees": ("Taxes & Licenses", "Postage"),
    "Accounting": ("Payroll Service Fees", "Taxes & Licenses"),
    "Insurance": ("Business Insurance", "Vehicle Insurance"),
    "Printing": ("Shipping", "Packaging"),
    "Contractors": ("Software", "Travel"),
}
_LINE_TEXT = {
    "Office Supplies": (
        "Copy paper (10 reams)",
        "Toner cartridges",
        "Desk organisers",
        "Whiteboard markers",
    ),
    "Rent or Lease": ("Monthly membership — 6 desks", "Private office", "Meeting room hours"),
    "Utilities": ("Electricity service", "Business internet 1 Gbps", "Gas service"),
    "Telephone": ("Mobile plan — 9 lines", "Device installment"),
    "Legal Fees": ("Contract review", "Trademark filing", "Retainer — monthly"),
    "Accounting": ("Quarterly bookkeeping review", "Tax advisory"),
    "Insurance": ("General liability premium", "Professional indemnity premium"),
    "Printing": ("Brochure print run", "Business cards", "Large-format posters"),
    "Contractors": ("Design sprint — week", "Illustration set", "UX research sessions"),
}
_UNIT_COST_RANGE = {
    "Office Supplies": (800, 40000),
    "Rent or Lease": (45000, 650000),
    "Utilities": (9000, 60000),
    "Telephone": (15000, 90000),
    "Legal Fees": (35000, 480000),
    "Accounting": (60000, 350000),
    "Insurance": (40000, 260000),
    "Printing": (5000, 180000),
    "Contractors": (80000, 420000),
}
_TAXES = (
    ("NY Sales Tax", Decimal("8.875"), "NY-ST-20418"),
    ("VAT", Decimal("20"), "GB 284 1177 02"),
)
_CUSTOM_CATEGORIES = (
    ("Client Entertainment", "Meals and Entertainment"),
    ("Conference Fees", "Education and Training"),
    ("Subcontracted Design", "Contractors"),
)
_PAYMENT_TYPES = ("Check", "Bank Transfer", "ACH", "Credit Card")


def _when(day: date, rng: random.Random, now: datetime) -> datetime:
    """An office-hours instant on `day` (US/Eastern), never later than the world's now."""
    local = datetime.combine(day, time(9, 0), tzinfo=EASTERN) + timedelta(
        minutes=rng.randrange(9 * 60)
    )
    return min(local.astimezone(UTC), now)


def _stamp(record: object, moment: datetime) -> None:
    for name in ("created", "updated"):
        if hasattr(record, name):
            setattr(record, name, moment)


def seed_services_firm(books: Books, seed: int = 2026) -> None:
    roster = services_firm_roster(seed)
    rng = random.Random(seed * 7919 + 17)
    now = books.now()

    staff_ids: dict[str, int] = {}
    for person in roster.staff:
        record = Staff(
            id=books.next_id("staff"),
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            created=datetime(2024, 3, 4, 15, 20, tzinfo=UTC),
            updated=datetime(2024, 3, 4, 15, 20, tzinfo=UTC),
        )
        books.staff[record.id] = record
        staff_ids[person.email] = record.id

    for name, parent in _CUSTOM_CATEGORIES:
        books.create("categories", {"category": name, "parentid": books.category_named(parent).id})
    tax_ids = {}
    for name, percent, number in _TAXES:
        tax = books.create("taxes", {"name": name, "amount": str(percent), "number": number})
        tax_ids[name] = tax.id

    vendor_ids: dict[str, list[int]] = {}
    for profile in roster.vendors:
        for name in (profile.name, *profile.aliases):
            vendor = books.create("bill_vendors", _vendor_body(profile, name))
            _stamp(vendor, _when(SEED_START - timedelta(days=rng.randrange(30, 400)), rng, now))
            vendor_ids.setdefault(profile.key, []).append(vendor.id)

    for profile in roster.vendors:
        if profile.bills:
            _seed_bills(books, profile, vendor_ids[profile.key], rng, now)

    for purchase in roster.purchases:
        if purchase.in_freshbooks:
            vendor = roster.vendor(purchase.vendor_key)
            expense = books.create(
                "expenses", _expense_body(books, purchase, vendor, staff_ids, rng)
            )
            _stamp(
                expense, _when(purchase.spent_on + timedelta(days=rng.randrange(0, 3)), rng, now)
            )


def _vendor_body(profile: VendorProfile, name: str) -> dict[str, object]:
    return {
        "vendor_name": name,
        "primary_contact_email": profile.email,
        "country": profile.country,
        "province": profile.state,
        "currency_code": _CURRENCY_BY_COUNTRY.get(profile.country, "USD"),
        "language": "en",
        "is_1099": profile.key.startswith("freelance") and profile.country == "US",
        "note": f"Usual terms: {'due on receipt' if profile.terms_days == 0 else f'Net {profile.terms_days}'}",
    }


def _line(
    profile: VendorProfile, category: str, books: Books, rng: random.Random
) -> dict[str, object]:
    low, high = _UNIT_COST_RANGE.get(profile.category, (1000, 50000))
    texts = _LINE_TEXT.get(profile.category, ("Services",))
    quantity = rng.choice((1, 1, 1, 2, 3, 5)) if profile.category == "Office Supplies" else 1
    line: dict[str, object] = {
        "categoryid": books.category_named(category).id,
        "description": rng.choice(texts)
        if category == profile.category
        else f"{category} — pass-through",
        "quantity": quantity,
        "unit_cost": {
            "amount": str(to_cents(Decimal(rng.randint(low, high)) / 100)),
            "code": "USD",
        },
    }
    if profile.state == "NY" and profile.category in {"Office Supplies", "Printing"}:
        line |= {"tax_name1": "NY Sales Tax", "tax_percent1": "8.875"}
    if profile.country == "GB":
        line |= {"tax_name1": "VAT", "tax_percent1": "20"}
    return line


def _seed_bills(
    books: Books, profile: VendorProfile, vendor_ids: list[int], rng: random.Random, now: datetime
) -> None:
    count = _BILLS_PER_VENDOR.get(profile.key, 6)
    currency = _CURRENCY_BY_COUNTRY.get(profile.country, "USD")
    prefix = "".join(ch for ch in profile.name.upper() if ch.isalpha())[:4]
    issued = sorted(SEED_START + timedelta(days=rng.randrange(SEED_DAYS)) for _ in range(count))
    for number, issue_date in enumerate(issued, start=1):
        # About one bill in six was keyed against the near-duplicate vendor.
        vendorid = (
            vendor_ids[0]
            if len(vendor_ids) == 1 or rng.random() > 0.16
            else rng.choice(vendor_ids[1:])
        )
        categories = [profile.category]
        extras = _SECONDARY_CATEGORIES.get(profile.category, ())
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            if extras:
                categories.append(rng.choice(extras))
        lines = [_line(profile, c, books, rng) for c in categories]
        for line in lines:
            line["unit_cost"] = {**line["unit_cost"], "code": currency}  # type: ignore[dict-item]
        bill = books.create(
            "bills",
            {
                "vendorid": vendorid,
                "bill_number": f"{prefix}-{2600 + number:05d}",
                "issue_date": issue_date.isoformat(),
                "due_offset_days": profile.terms_days,
                "currency_code": currency,
                "language": "en",
                "lines": lines,
            },
        )
        created = _when(issue_date + timedelta(days=rng.randrange(0, 4)), rng, now)
        paid_at = _pay(books, bill.id, issue_date, terms=profile.terms_days, rng=rng, now=now)
        roll = rng.random()
        if roll < 0.012:
            books.update("bills", bill.id, {"vis_state": 1})
        elif roll < 0.03:
            books.update("bills", bill.id, {"vis_state": 2})
        # Seeded history: the bill was last touched when it was paid, not when we seeded.
        bill.created = created
        bill.updated = max(created, paid_at or created)


def _pay(
    books: Books, billid: int, issue_date: date, *, terms: int, rng: random.Random, now: datetime
) -> datetime | None:
    """Maybe record a full or partial payment; when it was recorded, if it was."""
    state = books.bill_outstanding(billid)
    if state is None:
        return None
    outstanding, code = state
    age = (now.date() - issue_date).days
    roll = rng.random()
    chance_full, chance_partial = (0.62, 0.14) if age > 30 else (0.12, 0.06)
    if roll < chance_full:
        amount = outstanding
    elif roll < chance_full + chance_partial:
        amount = to_cents(outstanding * Decimal(rng.choice((25, 40, 50, 60))) / 100)
    else:
        return None
    paid_date = min(issue_date + timedelta(days=rng.randrange(0, max(terms, 3) + 1)), now.date())
    payment = books.create(
        "bill_payments",
        {
            "billid": billid,
            "amount": {"amount": str(amount), "code": code},
            "paid_date": max(paid_date, issue_date).isoformat(),
            "payment_type": rng.choice(_PAYMENT_TYPES),
            "note": "",
        },
    )
    paid_at = _when(max(paid_date, issue_date), rng, now)
    _stamp(payment, paid_at)
    return paid_at


def _expense_body(
    books: Books,
    purchase: Purchase,
    vendor: VendorProfile,
    staff_ids: dict[str, int],
    rng: random.Random,
) -> dict[str, object]:
    paid_with = PAID_WITH_TEXT.get(purchase.paid_with, purchase.paid_with)
    body: dict[str, object] = {
        "categoryid": books.category_named(purchase.category).id,
        "amount": {"amount": str(purchase.amount), "code": purchase.currency},
        "date": purchase.spent_on.isoformat(),
        "vendor": vendor.name,
        "staffid": staff_ids[purchase.staff_email],
        "notes": f"{purchase.note}. Paid with: {paid_with}",
        "has_receipt": rng.random() < 0.7,
    }
    if purchase.paid_with == "card":
        body |= {"account_name": CARD_FEED_ACCOUNT[0], "bank_name": CARD_FEED_ACCOUNT[1]}
    return body


__all__ = ["CARD_FEED_ACCOUNT", "PAID_WITH_TEXT", "seed_services_firm"]
