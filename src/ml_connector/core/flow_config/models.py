"""The flow configuration, format version 1: a connection's mappings and policies.

Pure pydantic models (no I/O). Unknown keys are errors (a typo must not be ignored);
every section has defaults except ``[connection]``. Documented with a full sample in
``docs/flow-config.md``; the JSON Schema in ``docs/flow-config.schema.json`` is generated
from these models.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ml_connector.core.cost_centers import CostCenterRule
from ml_connector.core.gl import CategoryMappingRule
from ml_connector.core.terms import PaymentTerms, parse_terms

__all__ = [
    "FORMAT_VERSION",
    "BillsSection",
    "ConnectionSection",
    "CostCenterRuleEntry",
    "CostCenterWhen",
    "CostCentersSection",
    "ExpensesSection",
    "FlowConfig",
    "GLMappingEntry",
    "GLSection",
    "StaffCardHolder",
    "TaxAccount",
    "VendorLink",
    "VendorTerms",
    "VendorsSection",
]

FORMAT_VERSION = 1

Text = Annotated[str, Field(min_length=1, max_length=200)]
Percent = Annotated[int, Field(ge=0, le=100)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ConnectionSection(_Model):
    """Which FreshBooks business feeds which Ramp entity."""

    name: Text = Field(description="A label for people: the firm or connection name.")
    freshbooks_account_id: Text = Field(description="FreshBooks account_id (e.g. 'ABC123').")
    ramp_entity_id: Text = Field(description="Ramp entity the bills belong to (bill entity_id).")
    ramp_vendor_owner_id: Text | None = Field(
        None, description="Ramp user who owns vendors the connector creates (vendor_owner_id)."
    )
    gl_field: Text = Field(
        "Category",
        description="field_external_id of Ramp's GL-account field ('Category' on API connections).",
    )


class TaxAccount(_Model):
    tax: Text = Field(description="FreshBooks tax name, e.g. 'GST' (case-insensitive).")
    gl_account: Text = Field(description="GL account id or code the tax line is coded to.")


class BillsSection(_Model):
    """How FreshBooks bills become Ramp bills."""

    tax_policy: Literal["separate_line", "fold_into_line"] = Field(
        "separate_line",
        description="Line taxes become their own Ramp line coded to a tax GL account, "
        "or are added into the line they belong to.",
    )
    default_tax_gl_account: Text | None = Field(
        None, description="Tax GL account for taxes not listed in tax_accounts."
    )
    tax_accounts: tuple[TaxAccount, ...] = ()
    invoice_number_overflow: Literal["shorten", "review"] = Field(
        "shorten",
        description="Ramp invoice numbers hold 20 characters. 'shorten' keeps the first 12, "
        "adds '~' and a 7-character hash of the full number, and puts the full number in the "
        "memo; 'review' sends the bill to review.",
    )
    unpaid_payment_method: Literal[
        "UNSPECIFIED", "ACH", "CHECK", "DOMESTIC_WIRE", "INTERNATIONAL", "SWIFT"
    ] = Field("UNSPECIFIED", description="payment_method of bills not yet paid in FreshBooks.")
    paid_after_sync: Literal["replace", "review"] = Field(
        "replace",
        description="A bill paid in FreshBooks after its Ramp bill exists: Ramp's API cannot "
        "mark an existing bill paid, and an open bill could be paid again by Ramp bill pay. "
        "'replace' archives the open Ramp bill (cancelling any in-flight payment) and creates "
        "it again as PAID_MANUALLY with the same remote_id, lines, coding and the FreshBooks "
        "payment date and method; 'review' leaves it open and sends it to review. A bill "
        "Ramp already shows paid is never touched; a partly paid bill stays open (noted in "
        "its memo) and goes to review only under 'review'.",
    )
    terms_policy: Literal["keep", "enforce", "flag"] = Field(
        "flag", description="When a bill's terms disagree with its vendor's: keep, enforce, flag."
    )
    terms_min_bills: int = Field(
        3, ge=1, le=100, description="Bills needed before a vendor's terms are inferred."
    )
    terms_min_share: Percent = Field(
        60, description="Percent of those bills that must share one offset to infer it."
    )
    terms_lookback: int = Field(10, ge=1, le=200, description="Recent bills looked at.")


class VendorLink(_Model):
    freshbooks_vendor_id: Text
    ramp_vendor_id: Text


class VendorTerms(_Model):
    vendor: Text = Field(description="FreshBooks vendor id or vendor name.")
    terms: Text = Field(description="'Due on receipt', 'Net 30', 'Net 21', '2/10 Net 30'…")

    @field_validator("terms")
    @classmethod
    def _known_terms(cls, value: str) -> str:
        parsed = parse_terms(value)
        if not isinstance(parsed, PaymentTerms):
            raise ValueError(parsed.reason)
        return value

    @property
    def payment_terms(self) -> PaymentTerms:
        parsed = parse_terms(self.terms)
        assert isinstance(parsed, PaymentTerms), "validated on load"
        return parsed


class VendorsSection(_Model):
    """Vendor matching and creation."""

    auto_match_threshold: Percent = Field(92, description="Fuzzy score that matches alone.")
    review_threshold: Percent = Field(
        80, description="Fuzzy score that makes a candidate plausible."
    )
    create_missing: bool = Field(True, description="Create a Ramp vendor when none matches.")
    default_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="Country for vendors FreshBooks has none for (ISO 3166 alpha-2)."
    )
    default_state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="State for US vendors FreshBooks has none for."
    )
    fallback_contact_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] | None = Field(
        None, description="Contact email for vendors FreshBooks has none for (Ramp requires one)."
    )
    write_external_vendor_id: bool = Field(
        False,
        description="Send external_vendor_id when creating vendors (not in Ramp's 2025 create "
        "schema; Ramp rejects unknown fields, so off unless your Ramp accepts it).",
    )
    links: tuple[VendorLink, ...] = ()
    distinct: tuple[Text, ...] = Field(
        (),
        description="FreshBooks vendor ids confirmed to be businesses of their own: only a "
        "link or an exact name matches them, never a resemblance, so they are created.",
    )
    terms: tuple[VendorTerms, ...] = ()

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> VendorsSection:
        if self.review_threshold > self.auto_match_threshold:
            raise ValueError("review_threshold must not exceed auto_match_threshold")
        return self


class GLMappingEntry(_Model):
    category: Text | None = Field(None, description="FreshBooks category name.")
    category_id: Text | None = Field(None, description="FreshBooks category id.")
    gl_account: Text = Field(description="Ramp GL account id or code.")

    @model_validator(mode="after")
    def _one_category(self) -> GLMappingEntry:
        if (self.category is None) == (self.category_id is None):
            raise ValueError("give exactly one of 'category' or 'category_id'")
        return self

    def rule(self) -> CategoryMappingRule:
        return CategoryMappingRule(self.gl_account, self.category_id, self.category)


class GLSection(_Model):
    suspense_account: Text | None = Field(
        None,
        description="Opt-in: GL account for categories with no mapping. Leave out to make "
        "such bills wait instead.",
    )
    mappings: tuple[GLMappingEntry, ...] = ()

    @model_validator(mode="after")
    def _no_duplicates(self) -> GLSection:
        seen: set[tuple[str, str]] = set()
        for entry in self.mappings:
            key = (
                ("id", entry.category_id)
                if entry.category_id is not None
                else ("name", (entry.category or "").casefold())
            )
            if key in seen:
                raise ValueError(
                    f"category {entry.category or entry.category_id!r} is mapped twice"
                )
            seen.add(key)
        return self


class CostCenterWhen(_Model):
    category: tuple[Text, ...] = Field((), description="Category ids or names (ancestors count).")
    vendor: tuple[Text, ...] = Field((), description="FreshBooks vendor ids or names.")
    staff: tuple[Text, ...] = Field((), description="FreshBooks staff ids.")
    client: tuple[Text, ...] = Field((), description="FreshBooks client ids.")
    project: tuple[Text, ...] = Field((), description="FreshBooks project ids.")


class CostCenterRuleEntry(_Model):
    description: Text
    field: Text = Field(description="Ramp accounting field external id, e.g. 'Department'.")
    option: Text = Field(description="Option external id, code or name.")
    when: CostCenterWhen = CostCenterWhen()

    def rule(self) -> CostCenterRule:
        return CostCenterRule(
            description=self.description, field=self.field, option=self.option,
            categories=self.when.category, vendors=self.when.vendor, staff=self.when.staff,
            clients=self.when.client, projects=self.when.project,
        )  # fmt: skip


class CostCentersSection(_Model):
    required_fields: tuple[Text, ...] = Field(
        (), description="Fields every line must get a value for, or it waits."
    )
    rules: tuple[CostCenterRuleEntry, ...] = Field((), description="Ordered; first match wins.")


class StaffCardHolder(_Model):
    staff_id: Text
    ramp_user_id: Text


class ExpensesSection(_Model):
    """How FreshBooks expenses find and code their Ramp card transactions."""

    match_window_days: int = Field(3, ge=0, le=30)
    min_merchant_similarity: Percent = 50
    clear_margin: Percent = 10
    no_match: Literal["wait", "manual_bill", "review"] = "wait"
    wait_days: int = Field(5, ge=0, le=90)
    after_wait: Literal["manual_bill", "review"] = "review"
    non_card: Literal["manual_bill", "review", "skip"] = Field(
        "manual_bill", description="Expenses paid by cash, personal card or bank."
    )
    manual_bill_vendor: Text | None = Field(
        None, description="Ramp vendor id for manual bills whose vendor text matches no vendor."
    )
    staff_card_holders: tuple[StaffCardHolder, ...] = ()


class FlowConfig(_Model):
    """A connection's flow configuration (format version 1)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        title="ml-connector flow configuration",
    )

    version: Literal[1] = Field(description="Format version; this build reads 1.")
    connection: ConnectionSection
    bills: BillsSection = BillsSection()
    vendors: VendorsSection = VendorsSection()
    gl: GLSection = GLSection()
    cost_centers: CostCentersSection = CostCentersSection()
    expenses: ExpensesSection = ExpensesSection()
