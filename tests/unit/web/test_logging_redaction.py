"""Secrets never reach a log line, whatever key or text they hide in."""

from __future__ import annotations

import io
import json
import logging

import structlog

from ml_connector.logging import REDACTED, bind_context, configure_logging, redact, redact_secrets


def test_secret_keys_and_secret_looking_text_are_replaced() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "called",
            "headers": {"Authorization": "Bearer abc.def", "X-Trace": "t-1"},
            "verifier": "v-123",
            "note": "retry with access_token=xyz&page=2",
            "body": b"client_secret=s3cr3t&grant_type=refresh_token",
            "items": [{"client_secret": "s"}, "ramp_tok_live_9f8e7d"],
            "connection_id": 4,
        },
    )
    assert event["headers"] == {"Authorization": REDACTED, "X-Trace": "t-1"}
    assert event["verifier"] == REDACTED
    assert event["note"] == f"retry with {REDACTED}&page=2"
    assert "s3cr3t" not in event["body"]
    assert event["items"] == [{"client_secret": REDACTED}, REDACTED]
    assert event["connection_id"] == 4
    assert event["event"] == "called"


def test_plain_values_pass_unchanged() -> None:
    assert redact({"name": "Acme Paper", "amount": "12.50"}) == {
        "name": "Acme Paper",
        "amount": "12.50",
    }


def test_configured_json_logging_carries_context_and_redacts(monkeypatch) -> None:
    stream = io.StringIO()
    configure_logging(json=True)
    handler = logging.getLogger().handlers[0]
    monkeypatch.setattr(handler, "stream", stream)
    try:
        with bind_context(connection_id=7, job_id=None, request_id="r-1"):
            structlog.get_logger("t").info("token.saved", refresh_token="rt-secret", key="fb:7")
        logging.getLogger("uvicorn").warning("Authorization: Bearer leaked")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["connection_id"] == 7
    assert first["request_id"] == "r-1"
    assert "job_id" not in first
    assert first["refresh_token"] == REDACTED
    assert "rt-secret" not in stream.getvalue()
    assert "leaked" not in second["event"]
