"""The FreshBooks emulator: OAuth, identity, accounting resources, ledger accounts,
webhook callbacks with signed deliveries, and a `/_sandbox` control surface.

    world = FreshBooksWorld(scenario="services-firm", clock=EmulatorClock(...))
    app = create_app(world)          # Starlette; app.state.world is world
    await world.webhooks.drain()     # deliver everything due now (deterministic tests)
"""

from ml_connector_emulators.freshbooks.app import create_app
from ml_connector_emulators.freshbooks.signing import HEADER as SIGNATURE_HEADER
from ml_connector_emulators.freshbooks.signing import sign, signed_message
from ml_connector_emulators.freshbooks.world import (
    DEFAULT_REDIRECT_URIS,
    Business,
    FreshBooksWorld,
)

__all__ = [
    "DEFAULT_REDIRECT_URIS",
    "SIGNATURE_HEADER",
    "Business",
    "FreshBooksWorld",
    "create_app",
    "sign",
    "signed_message",
]
