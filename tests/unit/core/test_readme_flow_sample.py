"""The README's flow configuration validates and shows the coverage report it produces."""

from __future__ import annotations

from pathlib import Path

from flow_doc import fenced_block, sample_report

from ml_connector.core.flow_config import FlowConfig, load_flow_config

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_sample_validates_and_its_report_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    config = load_flow_config(fenced_block("readme-flow-config", text), source="README.md")
    assert isinstance(config, FlowConfig), str(config)
    assert fenced_block("readme-coverage-report", text) == sample_report(config)
