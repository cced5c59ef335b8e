"""Exit codes and the one place expected errors become one-line "what to do" messages.

Scripts and schedulers branch on the exit code, people read the message; neither should
ever see a traceback for something we anticipated, nor a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError, OperationalError

from ml_connector.core.errors import (
    ApiError,
    AuthError,
    ConfigurationError,
    ConnectorError,
    InvalidGrantError,
    MissingScopeError,
    NeedsAttentionError,
    NotFoundError,
    RetriableError,
)
from ml_connector.store.connections import ConnectionNotFoundError
from ml_connector.store.crypto import DecryptionError


class ExitCode(IntEnum):
    """What a non-zero exit means; stable, so scripts may rely on it."""

    OK = 0
    FAILED = 1
    """The command ran but what it checked or did failed (a ping check, a sync error)."""
    USAGE = 2
    """Bad arguments (Typer/Click's own code)."""
    CONFIG = 3
    """Settings or flow configuration are wrong or missing."""
    NOT_FOUND = 4
    """The connection, job or object named does not exist."""
    AUTH = 5
    """A vendor refused our credentials: reconnect or fix the API client."""
    UNAVAILABLE = 6
    """A vendor or the database is unreachable or busy: try again later."""
    DATABASE = 7
    """The database is missing or not migrated."""
    INTERRUPTED = 130


class CliError(Exception):
    """An expected failure with the message to show and the exit code to use."""

    def __init__(self, message: str, *, code: ExitCode = ExitCode.FAILED, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint


def classify(error: BaseException) -> CliError | None:  # noqa: PLR0911, PLR0912 - one flat dispatch, most specific first
    """The message and exit code for an anticipated error; None for a real bug."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, ConnectionNotFoundError):
        return CliError(
            str(error), code=ExitCode.NOT_FOUND, hint="`ml-connector status` lists connections"
        )
    if isinstance(error, DecryptionError):
        return CliError(
            "stored secrets cannot be decrypted with the configured keys",
            code=ExitCode.CONFIG,
            hint="put the key they were written with in MLC_ENCRYPTION_KEYS (after the new one)",
        )
    if isinstance(error, InvalidGrantError):
        return CliError(
            f"{error} — the authorization was revoked or expired",
            code=ExitCode.AUTH,
            hint="authorize again: `ml-connector connect freshbooks`",
        )
    if isinstance(error, MissingScopeError):
        return CliError(
            str(error),
            code=ExitCode.AUTH,
            hint="grant the missing scope to the API client, then run `ml-connector ping`",
        )
    if isinstance(error, AuthError):
        system = getattr(error, "system", "")
        command = "connect ramp" if system == "ramp" else "connect freshbooks"
        return CliError(
            str(error), code=ExitCode.AUTH, hint=f"check the credentials: `ml-connector {command}`"
        )
    if isinstance(error, NotFoundError):
        return CliError(str(error), code=ExitCode.NOT_FOUND)
    if isinstance(error, ConfigurationError):
        return CliError(
            str(error), code=ExitCode.CONFIG, hint="see the MLC_* settings in the README"
        )
    if isinstance(error, NeedsAttentionError):
        return CliError(error.reason, code=ExitCode.FAILED)
    if isinstance(error, RetriableError):
        return CliError(
            str(error),
            code=ExitCode.UNAVAILABLE,
            hint="the other side is busy or down; retry later",
        )
    if isinstance(error, ApiError | ConnectorError):
        return CliError(str(error), code=ExitCode.FAILED)
    if isinstance(error, ValidationError):
        return CliError(
            f"invalid settings: {error.error_count()} problem(s): "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]),
            code=ExitCode.CONFIG,
        )
    if isinstance(error, OperationalError | DBAPIError):
        # The driver's text can name the host and user; it never contains the password
        # (URLs are rendered hidden), but keep it to its first line.
        first = str(error.orig or error).splitlines()[0][:300]
        return CliError(
            f"database error: {first}",
            code=ExitCode.UNAVAILABLE,
            hint="check MLC_DATABASE_URL and that the database is running",
        )
    return None


def report(error: CliError, console: Console) -> None:
    console.print(f"[bold red]error:[/] {escape(error.message)}", highlight=False)
    if error.hint:
        console.print(f"[dim]→ {escape(error.hint)}[/]", highlight=False)


@contextmanager
def guard(console: Console) -> Iterator[None]:
    """Turn anticipated errors into a message on stderr and the matching exit code."""
    try:
        yield
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        known = classify(exc)
        if known is None:
            raise
        report(known, console)
        raise typer.Exit(known.code) from None


__all__ = ["CliError", "ExitCode", "classify", "guard", "report"]
