"""Fixtures for the CLI tests (the world itself lives in `cli_world`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cli_world import CliWorld, make_settings
from typer.testing import CliRunner

from ml_connector.cli.context import CliEnv
from ml_connector.store.testing import sqlite_database
from ml_connector.sync.runtime import Transports
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import create_app as create_freshbooks_app
from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp import create_app as create_ramp_app
from support.harness import PUBLIC_URL, T0


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[CliWorld]:
    clock = EmulatorClock(frozen=T0)
    fb = FreshBooksWorld(
        scenario="empty", clock=clock, redirect_uris=(f"{PUBLIC_URL}/oauth/freshbooks/callback",)
    )
    ramp = RampWorld(scenario="empty", clock=clock)
    transports = Transports(
        freshbooks=httpx2.ASGITransport(app=create_freshbooks_app(fb)),
        ramp=httpx2.ASGITransport(app=create_ramp_app(ramp)),
    )
    with sqlite_database(tmp_path) as url:
        settings = make_settings(url, tmp_path, fb)
        yield CliWorld(
            url=url,
            data_dir=tmp_path,
            settings=settings,
            env=CliEnv(settings=settings, transports=transports, clock=clock.now),
            freshbooks=fb,
            ramp=ramp,
            clock=clock,
            runner=CliRunner(),
        )
