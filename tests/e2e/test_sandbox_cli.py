"""`ml-connector sandbox` serves both emulators on real loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    # A readiness poll with a generous deadline, not a timing assertion.
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"sandbox exited early with {proc.returncode}")
        try:
            httpx2.get(url, timeout=1.0)
        except httpx2.TransportError:
            time.sleep(0.2)
        else:
            return
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def sandbox() -> Iterator[tuple[int, int]]:
    fb_port, ramp_port = _free_port(), _free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
        [
            sys.executable,
            "-m",
            "ml_connector",
            "sandbox",
            "--freshbooks-port",
            str(fb_port),
            "--ramp-port",
            str(ramp_port),
            "--scenario",
            "empty",
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with proc:
        try:
            _wait_until_up(f"http://127.0.0.1:{fb_port}/_sandbox/credentials", proc)
            _wait_until_up(f"http://127.0.0.1:{ramp_port}/_sandbox/credentials", proc)
            yield fb_port, ramp_port
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def test_sandbox_serves_both_emulators_with_credentials(sandbox: tuple[int, int]) -> None:
    fb_port, ramp_port = sandbox
    fb = httpx2.get(f"http://127.0.0.1:{fb_port}/_sandbox/credentials", timeout=5.0)
    ramp = httpx2.get(f"http://127.0.0.1:{ramp_port}/_sandbox/credentials", timeout=5.0)
    assert fb.status_code == 200
    assert fb.headers["content-type"].startswith("application/json")
    assert {"client_id", "client_secret", "redirect_uri"} <= fb.json().keys()
    assert ramp.status_code == 200
    assert {"client_id", "client_secret", "business_id"} <= ramp.json().keys()


def test_sandbox_rejects_an_unknown_scenario() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ml_connector", "sandbox", "--scenario", "nope"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert b"unknown scenario" in result.stderr
