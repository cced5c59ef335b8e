"""`ml-connector demo` as a real process: it sets itself up, runs the flow and exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_and_reports_json(tmp_path: Path) -> None:
    # The empty scenario keeps this fast; `make demo` runs the services-firm one.
    result = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "ml_connector", "demo", "--scenario", "empty", "--json",
         "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert [s["step"] for s in summary["steps"]][:4] == ["connect", "connect", "setup", "webhooks"]
    assert summary["counters"]["ramp_duplicate_bills"] == 0
    assert summary["counters"]["freshbooks_refresh_token_reuses"] == 0
    # The live bill reached Ramp by webhook, and its edit followed.
    created, edited = summary["live"]
    assert created["ramp_bill"]
    assert edited["ramp_total_minor"] == 24000
    timeline = summary["timelines"][0]
    assert timeline["object"] == f"bill:{created['fb_id']}"
    assert timeline["intact"] is True
    assert any(e["ramp_id"] == created["ramp_bill"] for e in timeline["entries"])
    assert (tmp_path / "demo" / "demo.db").exists()
    assert "client_secret" not in result.stdout.decode()
