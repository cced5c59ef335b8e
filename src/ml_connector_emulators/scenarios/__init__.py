"""Named seed scenarios shared by both emulators.

`firm.services_firm_roster()` is the one source of truth for the real-world facts both
emulators must agree on (staff, departments, vendors, and each purchase with how it was
paid), so that a card expense entered in FreshBooks has its card transaction in Ramp.
Each emulator turns the roster into its own objects.
"""

from ml_connector_emulators.scenarios.firm import (
    Purchase,
    Roster,
    StaffMember,
    VendorProfile,
    services_firm_roster,
)

SCENARIOS = ("empty", "services-firm")

__all__ = [
    "SCENARIOS",
    "Purchase",
    "Roster",
    "StaffMember",
    "VendorProfile",
    "services_firm_roster",
]
