"""The Ramp Developer API emulator (reference `ramp-api.md`, checklist §12).

    world = RampWorld(scenario="services-firm", clock=EmulatorClock(...))
    app = create_app(world)            # Starlette; mount with httpx2.ASGITransport or serve
    await world.webhooks.drain()       # deliver every webhook due now

Where Ramp's sources disagree, `RampQuirks` switches between the readings.
"""

from ml_connector_emulators.ramp.app import create_app
from ml_connector_emulators.ramp.quirks import RampQuirks
from ml_connector_emulators.ramp.signing import sign
from ml_connector_emulators.ramp.world import RampWorld

__all__ = ["RampQuirks", "RampWorld", "create_app", "sign"]
