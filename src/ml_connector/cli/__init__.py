"""The `ml-connector` command line (Typer)."""

from ml_connector.cli.app import app, main

__all__ = ["app", "main"]
