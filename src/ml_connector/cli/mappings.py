"""`ml-connector mappings export|import|history`: a connection's flow configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ml_connector.cli.actor import cli_actor
from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.impact_view import impact_json, show_impact
from ml_connector.cli.output import Output
from ml_connector.core.flow_config import ConfigErrors, FlowConfig, load_flow_config
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.sync.impact import apply_mapping_change, preview_impact

mappings_app = typer.Typer(
    help="Export, import and list versions of a connection's flow configuration (TOML).",
    no_args_is_help=True,
)


@mappings_app.command("export")
def export(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    version: Annotated[int | None, typer.Option(help="A past version (default: current).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print (or write) the flow configuration exactly as it was saved."""
    out = Output(json_mode=json_output)

    async def work() -> dict[str, Any]:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            async with read(runtime.engine) as db:
                found = (
                    await mappings_store.current(db, conn.id)
                    if version is None
                    else await mappings_store.get(db, conn.id, version)
                )
        if found is None:
            raise CliError(
                f"connection {conn.name!r} has no mapping"
                + ("" if version is None else f" version {version}"),
                code=ExitCode.NOT_FOUND,
                hint="run setup, or `ml-connector mappings import FILE`",
            )
        return {
            "connection": conn.name,
            "version": found.version,
            "author": found.author,
            "comment": found.comment,
            "created_at": found.created_at,
            "text": found.text,
        }

    result = run(out, work)
    if output is not None:
        with guard(out.err):
            try:
                output.write_text(result["text"], encoding="utf-8")
            except OSError as exc:
                raise CliError(f"cannot write {output}: {exc.strerror}") from None
        out.note(f"wrote version {result['version']} of {result['connection']!r} to {output}")
        if json_output:
            out.emit_json({k: v for k, v in result.items() if k != "text"} | {"file": output})
        return
    if json_output:
        out.emit_json(result)
    else:
        out.out.file.write(
            result["text"] if result["text"].endswith("\n") else result["text"] + "\n"
        )


def _load(path: Path) -> tuple[str, FlowConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", code=ExitCode.USAGE) from None
    loaded = load_flow_config(text, source=path.name)
    if isinstance(loaded, ConfigErrors):
        raise CliError(
            f"{path} is not a valid flow configuration:\n{loaded}",
            code=ExitCode.CONFIG,
            hint="see docs/flow-config.md",
        )
    return text, loaded


@mappings_app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The TOML file to import.")],
    *,
    connection: ConnectionOption = None,
    comment: Annotated[str | None, typer.Option(help="Why this version (kept with it).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Validate only; save nothing.")] = False,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help="Show which synced objects it would change, field by field; save nothing.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(help="Import even if the file names another FreshBooks account."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Validate a flow configuration and save it as the connection's next version."""
    out = Output(json_mode=json_output)
    with guard(out.err):
        text, config = _load(path)

    async def work() -> dict[str, Any]:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            account = conn.freshbooks_account_id
            if account and config.connection.freshbooks_account_id != account and not force:
                raise CliError(
                    f"{path} is for FreshBooks account {config.connection.freshbooks_account_id}, "
                    f"but {conn.name!r} is connected to {account}",
                    code=ExitCode.CONFIG,
                    hint="fix connection.freshbooks_account_id, or pass --force",
                )
            if check:
                return {"connection": conn.name, "valid": True, "saved": False}
            async with read(runtime.engine) as db:
                current = await mappings_store.current(db, conn.id)
            if current is not None and current.text == text:
                return {
                    "connection": conn.name,
                    "valid": True,
                    "saved": False,
                    "version": current.version,
                }
            if preview:
                report = await preview_impact(runtime, conn.id, text)
                return {"connection": conn.name, "valid": True, "saved": False,
                        "impact": impact_json(report)}  # fmt: skip
            # Saved through the impact path: exactly the synced objects the new version
            # changes are re-pushed, each with the change in its audit trail.
            applied = await apply_mapping_change(
                runtime, conn.id, text, author=cli_actor(), comment=comment,
                expected_version=None if current is None else current.version,
            )  # fmt: skip
            out.note(f"re-pushing {applied.report.count} synced object(s) the new version changes")
            return {"connection": conn.name, "valid": True, "saved": True,
                    "version": applied.version.version}  # fmt: skip

    result = run(out, work)
    if json_output:
        out.emit_json(result)
    elif check:
        out.say(f"{path} is valid for {result['connection']!r}")
    elif "impact" in result and not result["saved"]:
        show_impact(out, result["impact"])
    elif result["saved"]:
        out.say(f"saved {path} as version {result['version']} of {result['connection']!r}")
    else:
        out.say(f"unchanged: version {result['version']} of {result['connection']!r} is identical")


@mappings_app.command("history")
def history(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every saved version, newest first."""
    out = Output(json_mode=json_output)

    async def work() -> list[dict[str, Any]]:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            async with read(runtime.engine) as db:
                versions = await mappings_store.history(db, conn.id)
        return [
            {
                "version": v.version,
                "author": v.author,
                "comment": v.comment,
                "created_at": v.created_at,
            }
            for v in versions
        ]

    rows = run(out, work)
    if json_output:
        out.emit_json(rows)
    else:
        out.table(
            ["version", "saved", "by", "comment"],
            [(r["version"], r["created_at"], r["author"], r["comment"]) for r in rows],
        )


__all__ = ["mappings_app"]
