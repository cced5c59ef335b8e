"""Emulators of the FreshBooks and Ramp APIs, with a `/_sandbox` control surface.

A separate package: it never imports `ml_connector`, and `ml_connector` never imports it
(only the CLI's `demo` and `sandbox` commands load it by name). Each emulator is a second,
independent reading of its vendor's API, so a misreading in the product's client cannot
be cancelled out by the same misreading here.
"""
