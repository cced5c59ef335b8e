"""Path segments built from ids: quoted, so an id can never change which route is called."""

from __future__ import annotations

from urllib.parse import quote


def seg(value: str) -> str:
    """`value` as one path segment (a `/` or `?` inside it cannot escape the segment)."""
    if not value:
        raise ValueError("an id used in a Ramp path cannot be empty")
    return quote(value, safe="")


__all__ = ["seg"]
