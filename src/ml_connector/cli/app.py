"""The Typer application: the root command and the registry of command groups.

Each command lives in a module named for it; this module only assembles them. Modules
that pull in the web server or the emulators are imported when their command runs, so
`ml-connector status` starts fast.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated

import typer

from ml_connector import __version__
from ml_connector.cli.audit import audit_app
from ml_connector.cli.connect import connect_app
from ml_connector.cli.db import db_app
from ml_connector.cli.demo import demo
from ml_connector.cli.keys import keys_app
from ml_connector.cli.mappings import mappings_app
from ml_connector.cli.ping import ping
from ml_connector.cli.plan import plan
from ml_connector.cli.reconcile import reconcile
from ml_connector.cli.replay import replay
from ml_connector.cli.serve import serve, worker
from ml_connector.cli.setup import setup
from ml_connector.cli.status import status
from ml_connector.cli.sync import sync
from ml_connector.settings import CONFIG_FILE_ENV

app = typer.Typer(
    name="ml-connector",
    help="One-way FreshBooks → Ramp sync of bills, bill vendors and expenses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help=f"A TOML settings file (same keys as the MLC_* variables; also {CONFIG_FILE_ENV}).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """One-way FreshBooks → Ramp sync of bills, bill vendors and expenses."""
    if config is not None:
        # Settings are read per command from the environment; the file joins them there.
        os.environ[CONFIG_FILE_ENV] = str(config)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def sandbox(
    freshbooks_port: Annotated[
        int, typer.Option(help="Port for the FreshBooks emulator (0: do not serve it).")
    ] = 8101,
    ramp_port: Annotated[
        int, typer.Option(help="Port for the Ramp emulator (0: do not serve it).")
    ] = 8102,
    scenario: Annotated[str, typer.Option(help="Seed data: 'empty' or 'services-firm'.")] = "empty",
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Serve the FreshBooks and Ramp emulators until interrupted.

    The emulators are a separate package the product never imports; this command loads
    it by name so that the import rules hold for everything else.
    """
    try:
        emulators = importlib.import_module("ml_connector_emulators.sandbox")
    except ModuleNotFoundError as exc:  # pragma: no cover - packaging error
        raise typer.BadParameter(f"the emulator package is not installed: {exc}") from exc
    try:
        emulators.serve(
            freshbooks_port=freshbooks_port, ramp_port=ramp_port, scenario=scenario, host=host
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(connect_app, name="connect")
app.add_typer(mappings_app, name="mappings")
app.command("demo")(demo)
app.command("serve")(serve)
app.command("worker")(worker)
app.command("status")(status)
app.command("setup")(setup)
app.command("ping")(ping)
app.command("plan")(plan)
app.command("sync")(sync)
app.add_typer(audit_app, name="audit")
app.command("replay")(replay)
app.command("reconcile")(reconcile)


def main() -> None:
    """Console-script entry point."""
    app()
