"""Who did it: the name the CLI records in audit rows, replays and mapping versions."""

from __future__ import annotations

import getpass


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        # No passwd entry (some containers): still attribute it to the CLI.
        user = "unknown"
    return f"cli:{user}"


__all__ = ["cli_actor"]
