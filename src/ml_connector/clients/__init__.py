"""Thin async HTTP clients for FreshBooks and Ramp: wire formats, auth flows, error classes.

No business rules live here. Every client takes an `httpx2` transport (or client) so tests
mount the emulators in-process.
"""
