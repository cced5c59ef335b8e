"""`ml-connector db upgrade|status`: create and migrate the database."""

from __future__ import annotations

from typing import Annotated

import typer

from ml_connector.cli.context import JsonOption, safe_url, settings_of, sqlite_file
from ml_connector.cli.errors import ExitCode, guard
from ml_connector.cli.output import Output
from ml_connector.store import migrate

db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create the database if needed and migrate it to the newest schema (idempotent)."""
    out = Output()
    with guard(out.err):
        settings = settings_of(ctx)
        url = settings.resolved_database_url
        if url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        before = migrate.current_revision(url)
        migrate.upgrade(url, revision)
        after = migrate.current_revision(url)
    if before == after:
        out.say(f"{safe_url(url)} is already at {after}")
    else:
        out.say(f"migrated {safe_url(url)}: {before or '(empty)'} → {after}")


@db_app.command("status")
def status(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the schema revision; exit 7 when a migration is pending."""
    out = Output(json_mode=json_output)
    with guard(out.err):
        url = settings_of(ctx).resolved_database_url
        path = sqlite_file(url)
        current = None if path is not None and not path.exists() else migrate.current_revision(url)
        head = migrate.head_revision()
    up_to_date = current == head
    if json_output:
        out.emit_json(
            {"database": safe_url(url), "current": current, "head": head, "up_to_date": up_to_date}
        )
    else:
        out.say(f"database: {safe_url(url)}")
        out.say(f"revision: {current or '(empty)'} (newest: {head})")
        if not up_to_date:
            out.warn("a migration is pending: run `ml-connector db upgrade`")
    if not up_to_date:
        raise typer.Exit(ExitCode.DATABASE)


__all__ = ["db_app"]
