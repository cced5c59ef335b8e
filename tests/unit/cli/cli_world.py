"""The CLI test world: `CliRunner` against a migrated SQLite file and in-process emulators."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from click.testing import Result
from pydantic import SecretStr
from typer.testing import CliRunner

from ml_connector.cli import app
from ml_connector.cli.context import CliEnv
from ml_connector.settings import Settings
from ml_connector.store import make_engine
from ml_connector.sync.runtime import Runtime
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.ramp import RampWorld
from support.harness import FRESHBOOKS_API, FRESHBOOKS_AUTH, PUBLIC_URL, RAMP_API, TEST_KEY


@dataclass
class CliWorld:
    """One database, both emulators, and a runner whose commands reach them."""

    url: str
    data_dir: Path
    settings: Settings
    env: CliEnv
    freshbooks: FreshBooksWorld
    ramp: RampWorld
    clock: EmulatorClock
    runner: CliRunner

    def invoke(self, *args: str, env: dict[str, str] | None = None, **kw: Any) -> Result:
        return self.runner.invoke(app, list(args), obj=self.env, env=env, **kw)

    def runtime_call(self, fn: Any) -> Any:
        """Run `await fn(runtime)` on a fresh runtime (setting up or inspecting state)."""

        async def go() -> Any:
            engine = make_engine(self.url)
            try:
                runtime = Runtime.build(
                    engine, self.settings, clock=self.clock.now, transports=self.env.transports
                )
                return await fn(runtime)
            finally:
                await engine.dispose()

        return anyio.run(go)

    def approve(self, authorize_url: str) -> str:
        """Act as the FreshBooks user on the consent page; return the code."""
        transport = self.env.transports.freshbooks if self.env.transports else None
        assert transport is not None

        async def go() -> str:
            async with httpx2.AsyncClient(transport=transport) as browser:
                page = await browser.get(authorize_url)
                assert page.status_code == 200
                fields = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
                answer = await browser.post(
                    str(page.url.copy_with(query=None)), data=fields | {"decision": "approve"}
                )
            assert answer.status_code == 302
            return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

        return anyio.run(go)


def make_settings(url: str, data_dir: Path, fb: FreshBooksWorld, **extra: Any) -> Settings:
    creds = fb.credentials()
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": url,
        "public_url": PUBLIC_URL,
        "encryption_keys": [SecretStr(TEST_KEY)],
        "session_secret": SecretStr("test-session-secret"),
        "freshbooks_client_id": creds["client_id"],
        "freshbooks_client_secret": SecretStr(creds["client_secret"]),
        "freshbooks_api_base_url": FRESHBOOKS_API,
        "freshbooks_auth_base_url": FRESHBOOKS_AUTH,
        "ramp_api_base_url": RAMP_API,
    }
    return Settings(**(values | extra))


def connect_both(cli: CliWorld, name: str = "Northbeam") -> None:
    """Authorize a connection on both sides through the CLI, as an operator would."""
    client = next(iter(cli.ramp.test_business.clients.values()))
    stored = cli.invoke(
        "connect", "ramp", "-c", name, "--client-id", client.client_id,
        env={"MLC_RAMP_CLIENT_SECRET": client.client_secret},
    )  # fmt: skip
    assert stored.exit_code == 0, stored.output
    url = json.loads(cli.invoke("connect", "freshbooks", "-c", name, "--json").stdout)
    code = cli.approve(url["authorize_url"])
    done = cli.invoke("connect", "freshbooks", "-c", name, "--code", code)
    assert done.exit_code == 0, done.output
