"""Take the README's screenshots of the admin UI from a real demo run.

Runs `ml-connector demo --serve` (the services-firm scenario: connect, setup, backfill,
live changes, then serving the connector and both emulators on loopback), signs in with
the password the demo prints, and saves PNGs of the main pages into `docs/screenshots/`
with headless Debian Chromium (the same browser and flags as the browser tests).

    .venv/bin/python scripts/screenshots.py                  # about two minutes
    .venv/bin/python scripts/screenshots.py --out /tmp/shots

The demo process is started here and stopped here (SIGINT, the way Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SERVING = re.compile(
    r"serving the connector at (?P<url>\S+?)/? \(user (?P<user>\S+), password (?P<password>\S+)\)"
)
DEMO_DEADLINE = 900.0
"""Seconds the demo may take before it serves (about two minutes on two cores)."""


@dataclass(frozen=True)
class Served:
    url: str
    user: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_demo(data_dir: Path) -> Iterator[Served]:
    """`ml-connector demo --serve` on free ports, until the block ends."""
    port, fb_port, ramp_port = _free_port(), _free_port(), _free_port()
    log = data_dir / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "ml_connector", "demo", "--serve",
             "--data-dir", str(data_dir / "demo"), "--port", str(port),
             "--freshbooks-port", str(fb_port), "--ramp-port", str(ramp_port)],
            stdout=sink, stderr=subprocess.STDOUT, env=env | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + DEMO_DEADLINE
        while True:
            found = SERVING.search(log.read_text(errors="replace"))
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the demo did not start serving; see {log}")
            time.sleep(1)
        served = Served(found["url"], found["user"], found["password"])
        _wait_for(f"{served.url}/healthz", process, log)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo stopped; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer; see {log}")


def sign_in(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/login")
    page.get_by_label("Username").fill(served.user)
    page.get_by_label("Password").fill(served.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sync dashboard")).to_be_visible()


def _connection_path(page: Page, served: Served) -> str:
    page.goto(f"{served.url}/connections")
    link = page.locator("a[href^='/connections/']").first
    href = link.get_attribute("href")
    if not href:
        raise SystemExit("the demo's connection is not listed")
    return href


def shots(page: Page, served: Served) -> list[tuple[str, Callable[[], None]]]:
    """(file name, how to get the page ready) for every screenshot, in README order."""
    conn = _connection_path(page, served)

    def dashboard() -> None:
        page.goto(f"{served.url}/")
        expect(page.get_by_role("heading", name="Sync dashboard")).to_be_visible()

    def connections() -> None:
        page.goto(f"{served.url}{conn}")
        expect(page.locator("#connection-status")).to_have_text("active")

    def mapping() -> None:
        page.goto(f"{served.url}{conn}/mappings")
        expect(page.locator("#coverage-summary")).to_be_visible()

    def vendors() -> None:
        page.goto(f"{served.url}{conn}/vendors")
        expect(page.get_by_role("heading", level=1)).to_be_visible()

    def audit() -> None:
        page.goto(f"{served.url}/")
        page.locator("a[href^='/audit?fb_id=']").filter(
            has_text=re.compile(r"^bill ")
        ).first.click()
        expect(page.locator("ol.timeline").first).to_be_visible()
        page.locator("ol.timeline details summary").first.click()

    def attention() -> None:
        page.goto(f"{served.url}/attention")
        expect(page.get_by_role("heading", name="Needs attention")).to_be_visible()

    return [
        ("dashboard.png", dashboard),
        ("connection.png", connections),
        ("mapping-editor.png", mapping),
        ("vendor-review.png", vendors),
        ("audit-timeline.png", audit),
        ("needs-attention.png", attention),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with (
        tempfile.TemporaryDirectory(prefix="mlc-shots-") as tmp,
        served_demo(Path(tmp)) as served,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            page = context.new_page()
            sign_in(page, served)
            for name, ready in shots(page, served):
                ready()
                page.screenshot(path=out / name, full_page=False)
                print(f"wrote {out / name}")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
