"""Structured logging: JSON lines in production, readable console lines in development.

Every record passes `redact_secrets` last before rendering, so a token, client secret,
webhook verifier or Authorization header that reaches a log call by accident is
replaced, whichever key it sits under or however deeply it is nested. Request, job and
connection ids ride on contextvars (`bind_context`), so a line logged deep in a
handler still says which webhook or job it belongs to. The standard library's loggers
(uvicorn, SQLAlchemy) are routed through the same processors and renderer.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"

_SECRET_KEY_MARKERS = (
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "verifier",
    "challenge",
    "cookie",
    "api_key",
    "apikey",
    "signature",
    "credential",
    "private_key",
    "session",
)
"""Substrings of a key whose value is never logged (compared case-insensitively)."""

_SECRET_VALUE = re.compile(
    r"(?i)(bearer\s+\S+|basic\s+[a-z0-9+/=]{8,}|ramp_(?:\w+_)?(?:tok|sec|jwt)_\S+"
    r"|(?:access|refresh)_token=[^&\s]+|client_secret=[^&\s]+|verifier=[^&\s]+)"
)
"""Secret-looking text inside values: bearer/basic credentials, Ramp tokens and secrets,
and form or query fragments carrying tokens, client secrets or verifiers."""

CONTEXT_KEYS = ("request_id", "connection_id", "job_id")


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_KEY_MARKERS)


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking keys' values and secret-looking text replaced."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _is_secret_key(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", errors="replace"))
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: strip secrets from every key and value of the event."""
    cleaned: EventDict = {}
    for key, value in event_dict.items():
        if key != "event" and _is_secret_key(key):
            cleaned[key] = REDACTED
        elif key == "exc_info":
            cleaned[key] = value  # rendered by format_exc_info before this processor runs
        else:
            cleaned[key] = redact(value)
    return cleaned


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(*, json: bool | None = None, level: int | str = logging.INFO) -> None:
    """Install structlog and route the standard library's logging through it.

    Args:
        json: JSON lines (production) or console lines (development); default: JSON
            unless stderr is a terminal.
        level: the minimum level, for structlog and stdlib loggers alike.
    """
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = _shared_processors()
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    # uvicorn installs handlers of its own and stops propagation (when it configures its
    # logging); hand its loggers back to the root so their lines are redacted too.
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True


@contextmanager
def bind_context(**values: Any) -> Iterator[None]:
    """Bind request/job/connection ids for every log line inside the block."""
    present = {k: v for k, v in values.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield


__all__ = [
    "CONTEXT_KEYS",
    "REDACTED",
    "bind_context",
    "configure_logging",
    "redact",
    "redact_secrets",
]
