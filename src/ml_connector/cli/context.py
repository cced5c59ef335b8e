"""What every command needs: settings, a migrated database, a `Runtime`, a connection.

`CliEnv` is the CLI's seam: production leaves it empty (real network, system clock,
settings from `MLC_*`); tests pass one through `CliRunner.invoke(..., obj=CliEnv(...))`
to point the same commands at in-process emulators on a frozen clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import anyio
import typer
from sqlalchemy.engine import make_url

from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.output import Output
from ml_connector.core.clock import Clock, system_clock
from ml_connector.settings import Settings, load_settings
from ml_connector.store import connections as connections_store
from ml_connector.store import make_engine, migrate, read
from ml_connector.store.connections import Connection
from ml_connector.sync.runtime import Runtime, Transports

T = TypeVar("T")

ConnectionOption = Annotated[
    str | None,
    typer.Option(
        "--connection",
        "-c",
        envvar="MLC_CONNECTION",
        help="Connection name or id (optional when there is only one).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@dataclass(frozen=True)
class CliEnv:
    """Overrides for tests and the demo; None fields mean "the real thing"."""

    settings: Settings | None = None
    transports: Transports | None = None
    clock: Clock = system_clock


def env_of(ctx: typer.Context | None) -> CliEnv:
    obj = None if ctx is None else ctx.find_root().obj
    return obj if isinstance(obj, CliEnv) else CliEnv()


def settings_of(ctx: typer.Context | None) -> Settings:
    env = env_of(ctx)
    return env.settings if env.settings is not None else load_settings()


def safe_url(url: str) -> str:
    """The database URL with any password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def ensure_migrated(settings: Settings) -> None:
    """Fail with the fix, rather than a SQL error, when the schema is missing or old."""
    url = settings.resolved_database_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise CliError(
            f"no database at {path}",
            code=ExitCode.DATABASE,
            hint="create it: `ml-connector db upgrade`",
        )
    if not migrate.is_up_to_date(url):
        raise CliError(
            f"the database at {safe_url(url)} is not at the current schema version",
            code=ExitCode.DATABASE,
            hint="migrate it: `ml-connector db upgrade`",
        )


@asynccontextmanager
async def open_runtime(
    ctx: typer.Context | None, *, check_schema: bool = True
) -> AsyncIterator[Runtime]:
    """A `Runtime` over the configured database; the engine is disposed on exit."""
    env = env_of(ctx)
    settings = settings_of(ctx)
    if check_schema:
        await anyio.to_thread.run_sync(ensure_migrated, settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield Runtime.build(engine, settings, clock=env.clock, transports=env.transports)
    finally:
        await engine.dispose()


async def resolve_connection(runtime: Runtime, ref: str | None) -> Connection:
    """The connection named or numbered `ref`, or the only one when `ref` is None."""
    async with read(runtime.engine) as db:
        if ref is not None:
            found = await connections_store.find_by_name(db, ref)
            if found is None and ref.isdigit():
                try:
                    found = await connections_store.get(db, int(ref))
                except connections_store.ConnectionNotFoundError:
                    found = None
            if found is None:
                raise CliError(
                    f"no connection named {ref!r}",
                    code=ExitCode.NOT_FOUND,
                    hint="`ml-connector status` lists connections",
                )
            return found
        every = await connections_store.list_all(db)
    if len(every) == 1:
        return every[0]
    if not every:
        raise CliError(
            "there is no connection yet",
            code=ExitCode.NOT_FOUND,
            hint="create one: `ml-connector connect ramp --connection NAME --client-id ID`",
        )
    names = ", ".join(c.name for c in every)
    raise CliError(
        f"there are {len(every)} connections ({names})",
        code=ExitCode.USAGE,
        hint="pick one with --connection NAME",
    )


def run(output: Output, work: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body, mapping anticipated errors to exit codes."""
    with guard(output.err):
        return anyio.run(work)
    raise AssertionError("unreachable")  # pragma: no cover - guard re-raises


__all__ = [
    "CliEnv",
    "ConnectionOption",
    "JsonOption",
    "ensure_migrated",
    "env_of",
    "open_runtime",
    "resolve_connection",
    "run",
    "safe_url",
    "settings_of",
    "sqlite_file",
]
