"""Seed a world for a named scenario.

Every scenario has the test business (the one `/_sandbox/credentials` hands out) with its
API client, a primary USD entity with a bill-pay bank account, and an admin user, plus a
second business with its own client so tenant isolation can be tested. `services-firm`
adds the shared roster's departments, staff (each with a card) and one card transaction
per purchase paid by card, with the roster's amount, currency, date and merchant
descriptor unchanged: the FreshBooks emulator seeds the matching expenses from the same
roster.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from ml_connector_emulators.ramp.models import (
    BankAccount,
    Business,
    Department,
    Entity,
    Location,
    Transaction,
    User,
)
from ml_connector_emulators.scenarios import Roster, services_firm_roster

if TYPE_CHECKING:
    from ml_connector_emulators.ramp.world import RampWorld

# Every scope of reference §2.3 plus `transactions:write`, which line-item coding needs.
ALL_SCOPES: frozenset[str] = frozenset(
    [
        "accounting:read",
        "accounting:write",
        "bank_accounts:read",
        "bills:read",
        "bills:write",
        "business:read",
        "cards:read",
        "cards:read_vault",
        "cards:write",
        "cashbacks:read",
        "custom_records:read",
        "custom_records:write",
        "departments:read",
        "departments:write",
        "entities:read",
        "item_receipts:read",
        "item_receipts:write",
        "leads:read",
        "leads:write",
        "limits:read",
        "limits:write",
        "locations:read",
        "locations:write",
        "memos:read",
        "memos:write",
        "merchants:read",
        "purchase_orders:read",
        "purchase_orders:write",
        "receipt_integrations:read",
        "receipt_integrations:write",
        "receipts:read",
        "receipts:write",
        "reimbursements:read",
        "reimbursements:write",
        "repayments:read",
        "spend_programs:read",
        "spend_programs:write",
        "statements:read",
        "transactions:read",
        "transactions:write",
        "transfers:read",
        "users:read",
        "users:write",
        "vendors:read",
        "vendors:write",
    ]
)

TEST_BUSINESS_NAME = "Northbeam Consulting"
OTHER_BUSINESS_NAME = "Harbor Light Studio"


def seed_world(world: RampWorld, scenario: str) -> str:
    """Seed `world` for `scenario`; returns the test business id."""
    business = world.add_business(TEST_BUSINESS_NAME, ALL_SCOPES)
    entity = add_entity(world, business, f"{TEST_BUSINESS_NAME} LLC")
    hq = Location(id=world.new_id(), name="New York HQ", entity_id=entity.id)
    business.locations[hq.id] = hq
    entity.location_ids.append(hq.id)
    add_user(
        world,
        business,
        first="Alex",
        last="Morgan",
        email="alex.morgan@northbeam.example",
        role="BUSINESS_OWNER",
        entity=entity,
    )
    if scenario == "services-firm":
        _seed_services_firm(world, business, entity, hq, services_firm_roster())
    other = world.add_business(OTHER_BUSINESS_NAME, ALL_SCOPES)
    other_entity = add_entity(world, other, f"{OTHER_BUSINESS_NAME} Inc")
    add_user(
        world,
        other,
        first="Robin",
        last="Lee",
        email="robin.lee@harborlight.example",
        role="BUSINESS_OWNER",
        entity=other_entity,
    )
    return business.id


def add_entity(world: RampWorld, business: Business, name: str) -> Entity:
    entity = Entity(
        id=world.new_id(),
        entity_name=name,
        currency="USD",
        is_primary=True,
        accounts=[
            BankAccount(
                id=world.new_id(),
                name="Operating checking ••4821",
                usage_type="BILL_PAY_BANK_ACCOUNT",
                classification="ASSET",
                external_id="1010",
            ),
            BankAccount(
                id=world.new_id(),
                name="Ramp cash",
                usage_type="CASH_ACCOUNT",
                classification="ASSET",
                external_id="1000",
            ),
        ],
    )
    business.entities[entity.id] = entity
    return entity


def add_user(
    world: RampWorld,
    business: Business,
    *,
    first: str,
    last: str,
    email: str,
    role: str,
    entity: Entity,
    department_id: str | None = None,
    location_id: str | None = None,
) -> User:
    user = User(
        id=world.new_id(),
        first_name=first,
        last_name=last,
        email=email,
        role=role,
        entity_id=entity.id,
        department_id=department_id,
        location_id=location_id,
        employee_id=f"E{len(business.users) + 1:03d}",
        card_id=world.new_id() if role == "BUSINESS_USER" else None,
    )
    business.users[user.id] = user
    return user


def _seed_services_firm(
    world: RampWorld, business: Business, entity: Entity, hq: Location, roster: Roster
) -> None:
    departments: dict[str, Department] = {}
    for name in roster.departments:
        department = Department(id=world.new_id(), name=name)
        business.departments[department.id] = department
        departments[name] = department
    staff: dict[str, User] = {}
    for member in roster.staff:
        staff[member.email] = add_user(
            world,
            business,
            first=member.first_name,
            last=member.last_name,
            email=member.email,
            role="BUSINESS_USER",
            entity=entity,
            department_id=departments[member.department].id,
            location_id=hq.id,
        )
    merchants: dict[str, str] = {}
    for index, purchase in enumerate(p for p in roster.purchases if p.paid_with == "card"):
        holder = staff[purchase.staff_email]
        merchant_id = merchants.setdefault(purchase.merchant, world.new_id())
        # A daytime hour keeps the UTC calendar date equal to the purchase date everywhere
        # from UTC-11 to UTC+11, so date-window matching is not thrown by time zones.
        moment = datetime.combine(purchase.spent_on, time(10, 0), tzinfo=UTC) + timedelta(
            minutes=(index * 37) % 360
        )
        transaction = Transaction(
            id=world.new_id(),
            amount=purchase.amount,
            currency=purchase.currency,
            user_transaction_time=moment,
            merchant_id=merchant_id,
            merchant_name=purchase.merchant,
            user_id=holder.id,
            card_id=holder.card_id,
            entity_id=entity.id,
            department_id=departments[purchase.department].id,
            location_id=hq.id,
            updated_at=moment,
        )
        business.transactions[transaction.id] = transaction
