"""The actions a plan is made of: each a Ramp write (or a decision not to write) + reason.

Pure values. Every action names the FreshBooks object it is for (`subject`), says why
(`reason`), lists the decisions behind it (`explanation`: vendor rule and confidence,
terms source, tax policy, GL rule and cost-center rule per line, match score…) and,
for writes, carries the exact Ramp request: `method`, `path` and `payload` with field
names per Ramp's API (decimals as strings).

`content_hash` on a write is what the sync engine stores on the link after the write
succeeds; re-planning an unchanged object then yields `Skip`.

A bill whose vendor is created in the same plan references it with `PendingRef` values;
the engine substitutes the new ids with `resolve_pending` (and then hashes) before sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from ml_connector.core.hashing import content_hash
from ml_connector.core.model import FreshBooksKind
from ml_connector.core.problems import Problem

__all__ = [
    "Action",
    "ActionKind",
    "ArchiveBill",
    "CodeTransaction",
    "CreateBill",
    "CreateManualPaidBill",
    "CreateVendor",
    "LinkVendor",
    "PendingRef",
    "ReplaceBill",
    "Review",
    "SetMemo",
    "Skip",
    "Subject",
    "UpdateBill",
    "Wait",
    "has_pending",
    "resolve_pending",
]


class ActionKind(StrEnum):
    CREATE_VENDOR = "create_vendor"
    LINK_VENDOR = "link_vendor"
    CREATE_BILL = "create_bill"
    UPDATE_BILL = "update_bill"
    ARCHIVE_BILL = "archive_bill"
    CODE_TRANSACTION = "code_transaction"
    SET_MEMO = "set_memo"
    CREATE_MANUAL_PAID_BILL = "create_manual_paid_bill"
    REPLACE_BILL = "replace_bill"
    SKIP = "skip"
    REVIEW = "review"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Subject:
    """The FreshBooks object an action is for."""

    kind: FreshBooksKind
    id: str

    def __str__(self) -> str:
        return f"FreshBooks {self.kind.value} {self.id}"


@dataclass(frozen=True, slots=True)
class PendingRef:
    """An id that will exist once an earlier action in the same plan has run.

    `kind` is ``"vendor"`` (the new vendor's ``id``) or ``"vendor_contact"`` (its first
    ``contacts`` entry); `fb_id` is the FreshBooks vendor the vendor is created for.
    """

    kind: str
    fb_id: str

    def __str__(self) -> str:
        return f"<{self.kind} created for FreshBooks vendor {self.fb_id}>"


@dataclass(frozen=True, kw_only=True)
class _Base:
    subject: Subject
    reason: str
    explanation: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CreateVendor(_Base):
    """``POST /developer/v1/vendors``; the engine then links the FreshBooks vendor."""

    kind = ActionKind.CREATE_VENDOR
    method = "POST"
    payload: Mapping[str, Any]
    content_hash: str

    @property
    def path(self) -> str:
        return "/vendors"


@dataclass(frozen=True, kw_only=True)
class LinkVendor(_Base):
    """No Ramp write: record that the FreshBooks vendor is this existing Ramp vendor."""

    kind = ActionKind.LINK_VENDOR
    ramp_vendor_id: str
    rule: str
    confidence: float
    content_hash: str


@dataclass(frozen=True, kw_only=True)
class CreateBill(_Base):
    """``POST /developer/v1/bills``."""

    kind = ActionKind.CREATE_BILL
    method = "POST"
    payload: Mapping[str, Any]
    content: Mapping[str, Any]
    """The part of the bill the content hash covers (payment excluded, see plan.py)."""
    content_hash: str | None
    """None while the payload holds `PendingRef` values (see `resolve_pending`)."""

    @property
    def path(self) -> str:
        return "/bills"


@dataclass(frozen=True, kw_only=True)
class CreateManualPaidBill(CreateBill):
    """``POST /developer/v1/bills`` with ``PAID_MANUALLY`` for an expense with no card charge."""

    kind = ActionKind.CREATE_MANUAL_PAID_BILL


@dataclass(frozen=True, kw_only=True)
class ReplaceBill(CreateBill):
    """``DELETE /developer/v1/bills/{replaces}``, then ``POST /developer/v1/bills`` paid.

    For a bill paid in FreshBooks after its Ramp bill was created: Ramp's PATCH cannot
    record a payment, and an open Ramp bill could be paid a second time by bill pay.
    Archiving it (which also cancels an in-flight payment) and posting a ``PAID_MANUALLY``
    bill with the same ``remote_id`` leaves one live bill that says what happened. The
    payload is the replacement's full create body.
    """

    kind = ActionKind.REPLACE_BILL
    replaces: str
    """The open Ramp bill archived first (skipped when it is archived already)."""


@dataclass(frozen=True, kw_only=True)
class UpdateBill(_Base):
    """``PATCH /developer/v1/bills/{id}`` with every patchable field (lines replace wholesale)."""

    kind = ActionKind.UPDATE_BILL
    method = "PATCH"
    ramp_bill_id: str
    payload: Mapping[str, Any]
    content: Mapping[str, Any]
    content_hash: str | None

    @property
    def path(self) -> str:
        return f"/bills/{self.ramp_bill_id}"


@dataclass(frozen=True, kw_only=True)
class ArchiveBill(_Base):
    """``DELETE /developer/v1/bills/{id}`` (Ramp archives; refused for paid bills)."""

    kind = ActionKind.ARCHIVE_BILL
    method = "DELETE"
    ramp_bill_id: str
    content_hash: str

    @property
    def path(self) -> str:
        return f"/bills/{self.ramp_bill_id}"


@dataclass(frozen=True, kw_only=True)
class CodeTransaction(_Base):
    """``PATCH /developer/v1/transactions/{id}`` with ``line_items`` (GL + cost centers)."""

    kind = ActionKind.CODE_TRANSACTION
    method = "PATCH"
    ramp_transaction_id: str
    payload: Mapping[str, Any]
    content_hash: str

    @property
    def path(self) -> str:
        return f"/transactions/{self.ramp_transaction_id}"


@dataclass(frozen=True, kw_only=True)
class SetMemo(_Base):
    """``POST /developer/v1/memos/{transaction_id}`` (PATCH on transactions ignores memo)."""

    kind = ActionKind.SET_MEMO
    method = "POST"
    ramp_transaction_id: str
    payload: Mapping[str, Any]
    content_hash: str

    @property
    def path(self) -> str:
        return f"/memos/{self.ramp_transaction_id}"


@dataclass(frozen=True, kw_only=True)
class Skip(_Base):
    """Nothing to do (unchanged, deleted and never synced, or out of scope)."""

    kind = ActionKind.SKIP


@dataclass(frozen=True, kw_only=True)
class Review(_Base):
    """Needs a person; nothing is written. `problems` lists every specific issue."""

    kind = ActionKind.REVIEW
    code: str
    problems: tuple[Problem, ...] = ()
    candidates: tuple[str, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class Wait(_Base):
    """Try again later (e.g. the card charge may not have posted yet)."""

    kind = ActionKind.WAIT
    until: date


Action = (
    CreateVendor
    | LinkVendor
    | CreateBill
    | CreateManualPaidBill
    | ReplaceBill
    | UpdateBill
    | ArchiveBill
    | CodeTransaction
    | SetMemo
    | Skip
    | Review
    | Wait
)


def _substitute(value: object, ids: Mapping[PendingRef, str]) -> object:
    if isinstance(value, PendingRef):
        return ids.get(value, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, ids) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, ids) for v in value]
    return value


def has_pending(value: object) -> bool:
    """True if `value` (a payload) still contains a `PendingRef`."""
    if isinstance(value, PendingRef):
        return True
    if isinstance(value, Mapping):
        return any(has_pending(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_pending(v) for v in value)
    return False


_W = TypeVar("_W", CreateBill, CreateManualPaidBill, UpdateBill)


def resolve_pending(action: _W, ids: Mapping[PendingRef, str]) -> _W:
    """`action` with pending ids replaced and, once none remain, its content hash set."""
    payload = _substitute(action.payload, ids)
    content = _substitute(action.content, ids)
    assert isinstance(payload, dict)
    assert isinstance(content, dict)
    digest = None if has_pending(content) else content_hash(content)
    return replace(action, payload=payload, content=content, content_hash=digest)
