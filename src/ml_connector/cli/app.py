"""The Typer application and the commands that need nothing but the emulators."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from ml_connector import __version__

app = typer.Typer(
    name="ml-connector",
    help="One-way FreshBooks → Ramp sync of bills, bill vendors and expenses.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """One-way FreshBooks → Ramp sync of bills, bill vendors and expenses."""


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


def main() -> None:
    """Console-script entry point."""
    app()
