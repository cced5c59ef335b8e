"""docs/cli.md is the CLI as the code describes it now (regenerate: scripts/cli_reference.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from ml_connector.cli.errors import ExitCode

ROOT = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts" / "cli_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_matches_the_typer_app() -> None:
    reference = _script()
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == reference.render(), (
        "docs/cli.md is stale: run `.venv/bin/python scripts/cli_reference.py`"
    )


def test_the_reference_names_every_command_and_exit_code() -> None:
    reference = _script()
    text = reference.render()
    for name in ("demo", "sandbox", "serve", "worker", "connect", "ping", "plan", "sync",
                 "status", "audit", "replay", "mappings", "keys", "db", "setup"):  # fmt: skip
        assert f"## `ml-connector {name}`" in text, name
    assert set(reference.EXIT_CODES) == set(ExitCode)
    assert "--json" in text
