"""§12 item 8 and the organisation and transaction reads the sync relies on."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ramp_sandbox import Sandbox

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ramp.models import (
    AccountingFieldCreate,
    AccountingSelection,
    FieldOptionUpload,
    GLAccountUpdate,
    GLAccountUpload,
    TransactionLineItemCoding,
)
from ml_connector.core.errors import ApiValidationError

pytestmark = pytest.mark.anyio


async def test_ensure_connection_is_idempotent(client: RampClient) -> None:
    first = await client.accounting.ensure_connection()
    second = await client.accounting.ensure_connection()
    assert first.id == second.id
    assert first.is_active
    assert [c.id for c in await client.accounting.connections() if c.is_active] == [first.id]


async def test_gl_accounts_upload_in_batches_list_and_patch(
    client: RampClient, sandbox: Sandbox
) -> None:
    await client.accounting.ensure_connection()
    accounts = [
        GLAccountUpload(
            id=f"{6000 + n}", name=f"Expense {n:04d}", classification="EXPENSE", code=f"{6000 + n}"
        )
        for n in range(1100)
    ]
    created = await client.accounting.gl_accounts.upload(accounts)
    assert len(created) == 1100
    assert (await sandbox.counters())["requests_by_route"][
        "POST /developer/v1/accounting/accounts"
    ] == 3
    listed = [a async for a in client.accounting.gl_accounts.list()]
    assert {a.id for a in listed} == {a.id for a in accounts}

    renamed = await client.accounting.gl_accounts.patch(
        created[0].ramp_id, GLAccountUpdate(name="Office Supplies")
    )
    assert renamed.name == "Office Supplies"
    [by_remote] = [a async for a in client.accounting.gl_accounts.list(remote_id=created[0].id)]
    assert by_remote.name == "Office Supplies"


async def test_gl_upload_of_an_existing_account_is_refused_whole(client: RampClient) -> None:
    await client.accounting.ensure_connection()
    await client.accounting.gl_accounts.upload(
        [GLAccountUpload(id="6410", name="Supplies", classification="EXPENSE")]
    )
    with pytest.raises(ApiValidationError):
        await client.accounting.gl_accounts.upload(
            [
                GLAccountUpload(id="6420", name="Travel", classification="EXPENSE"),
                GLAccountUpload(id="6410", name="Supplies again", classification="EXPENSE"),
            ]
        )
    assert [a.id async for a in client.accounting.gl_accounts.list()] == ["6410"]


async def test_custom_field_and_options(client: RampClient) -> None:
    await client.accounting.ensure_connection()
    definition = AccountingFieldCreate(
        id="cost_center", name="Cost Center", input_type="SINGLE_CHOICE"
    )
    field = await client.fields.create(definition)
    assert (await client.fields.create(definition)).ramp_id == field.ramp_id  # idempotent by id
    options = await client.fields.upload_options(
        field.ramp_id,
        [
            FieldOptionUpload(id=f"cc-{n}", value=name)
            for n, name in enumerate(("Consulting", "Design"))
        ],
    )
    assert sorted(o.value for o in options) == ["Consulting", "Design"]
    listed = [o async for o in client.fields.options(field.ramp_id)]
    assert sorted(o.id or "" for o in listed) == ["cc-0", "cc-1"]


async def test_departments_entities_users(client: RampClient) -> None:
    departments = [d.name async for d in client.departments.list()]
    assert sorted(departments) == ["Consulting", "Design", "Operations"]
    entities = [e async for e in client.entities.list()]
    assert any(e.is_primary for e in entities)
    assert any(a.usage_type == "BILL_PAY_BANK_ACCOUNT" for e in entities for a in e.accounts)
    users = [u async for u in client.users.list()]
    assert len(users) >= 2
    [by_email] = [u async for u in client.users.list(email=users[0].email)]
    assert by_email.id == users[0].id


async def test_transactions_filters_coding_and_memo(client: RampClient) -> None:
    everything = [t async for t in client.transactions.list()]
    assert everything
    since = datetime(2026, 10, 1, tzinfo=UTC)
    filtered = [
        t async for t in client.transactions.list(from_date=since, min_amount=Decimal("100"))
    ]
    assert filtered
    assert all(t.user_transaction_time and t.user_transaction_time >= since for t in filtered)
    assert all(t.amount is not None and t.amount >= Decimal(100) for t in filtered)
    assert len(filtered) < len(everything)

    await client.accounting.ensure_connection()
    await client.accounting.gl_accounts.upload(
        [GLAccountUpload(id="6410", name="Supplies", classification="EXPENSE")]
    )
    target = filtered[0]
    assert target.amount is not None
    assert target.original_transaction_amount is not None
    assert target.original_transaction_amount.to_decimal() == target.amount
    coded = await client.transactions.patch_coding(
        target.id,
        [
            TransactionLineItemCoding(
                amount=target.amount,
                accounting_field_selections=[
                    AccountingSelection(
                        field_external_id="Category", field_option_external_id="6410"
                    )
                ],
            )
        ],
    )
    [line] = coded.line_items
    assert [s.external_id for s in line.accounting_field_selections] == ["6410"]

    memo = await client.transactions.set_memo(target.id, "FreshBooks expense #42")
    assert memo.memo == "FreshBooks expense #42"
    assert (await client.transactions.get(target.id)).memo == "FreshBooks expense #42"


async def test_coding_lines_must_add_up(client: RampClient) -> None:
    target = await client.transactions.list().__anext__()
    assert target.amount is not None
    with pytest.raises(ApiValidationError):
        await client.transactions.patch_coding(
            target.id,
            [
                TransactionLineItemCoding(
                    amount=target.amount + Decimal("0.01"), accounting_field_selections=[]
                )
            ],
        )
