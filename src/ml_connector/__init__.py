"""ml-connector: one-way FreshBooks → Ramp sync of bills, bill vendors and expenses."""

__version__ = "0.1.0"

__all__ = ["__version__"]
