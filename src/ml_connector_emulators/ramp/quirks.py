"""Switches for the places where Ramp's sources disagree (reference §13 open questions).

Each default follows the most recent live-verified source; the alternative is one switch
away so the product's client can be proven tolerant of both readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

SIGNATURE_HEADER: Final = "X-Ramp-Signature"
LEGACY_SIGNATURE_HEADER: Final = "X-Ramp-Webhook-Signature"


@dataclass(frozen=True)
class RampQuirks:
    # §2.1 / Q3: the live sandbox mints a token for any scope and refuses at the resource
    # (403 DEVELOPER_7100) with no `scope` in the token answer; the docs describe
    # `invalid_scope` at the token endpoint and echo `scope`.
    scope_check: Literal["resource", "token"] = "resource"
    token_response_includes_scope: bool = False
    # §9.5 / Q1: the current header name vs the mid-2025 docs' name, hex vs base64.
    signature_header: Literal["X-Ramp-Signature", "X-Ramp-Webhook-Signature", "both"] = (
        SIGNATURE_HEADER
    )
    signature_encoding: Literal["hex", "base64"] = "hex"
    # §3.4 / Q4: Retry-After is undocumented; sending it is harmless.
    retry_after_header: bool = True
    # §4 / Q6: `GET /vendors?name=` semantics, and whether `external_vendor_id` is writable.
    vendor_name_match: Literal["exact", "contains"] = "exact"
    vendor_external_id_writable: bool = True
    # §4: the 2025 spec requires `vendor_owner_id`; a 2026 live test did not mention it.
    vendor_owner_required: bool = True
    # §5.2 / Q2: whether `payment_method: UNSPECIFIED` is accepted on bill create.
    accept_unspecified_payment_method: bool = True
    # §5.2 / Q7: the GL-account field's external id under an API connection.
    gl_field_external_id: str = "Category"
    # §3.4: the default budget.
    rate_limit_requests: int = 200
    rate_limit_window_seconds: int = 10
