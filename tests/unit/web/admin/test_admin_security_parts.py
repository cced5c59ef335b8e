"""The security building blocks on their own: CSRF tokens, the login limiter, redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from ml_connector.core.clock import FixedClock
from ml_connector.web.security import (
    AdminCredentials,
    CsrfProtector,
    LoginRateLimiter,
    safe_next,
)


def test_csrf_token_is_bound_to_its_session() -> None:
    csrf = CsrfProtector("secret")
    mine: dict[str, object] = {}
    theirs: dict[str, object] = {}
    token = csrf.token_for(mine)
    csrf.token_for(theirs)
    assert csrf.is_valid(mine, token)
    assert not csrf.is_valid(theirs, token)
    assert not csrf.is_valid({}, token)
    assert not csrf.is_valid(mine, token + "x")
    assert not csrf.is_valid(mine, None)


def test_csrf_token_signed_with_another_secret_is_refused() -> None:
    session: dict[str, object] = {}
    token = CsrfProtector("one").token_for(session)
    assert not CsrfProtector("two").is_valid(session, token)


def test_expired_csrf_token_is_refused() -> None:
    session: dict[str, object] = {}
    token = CsrfProtector("secret").token_for(session)
    assert not CsrfProtector("secret", max_age=-1).is_valid(session, token)


def test_login_limiter_blocks_after_five_failures_until_the_window_passes() -> None:
    clock = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))
    limiter = LoginRateLimiter(clock, max_failures=5, window=timedelta(minutes=15))
    for _ in range(4):
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") is None
    limiter.failed("10.0.0.1")
    wait = limiter.retry_after("10.0.0.1")
    assert wait is not None
    assert 0 < wait <= 15 * 60 + 1
    assert limiter.retry_after("10.0.0.2") is None  # per client
    clock.advance(timedelta(minutes=15, seconds=1))
    assert limiter.retry_after("10.0.0.1") is None


def test_login_limiter_forgets_a_client_after_success() -> None:
    clock = FixedClock(datetime(2026, 11, 2, tzinfo=UTC))
    limiter = LoginRateLimiter(clock, max_failures=2)
    limiter.failed("a")
    limiter.succeeded("a")
    limiter.failed("a")
    assert limiter.retry_after("a") is None


def test_credentials_check_both_parts_and_hide_the_password() -> None:
    creds = AdminCredentials("admin", SecretStr("s3cret-pass"))
    assert creds.verify("admin", "s3cret-pass")
    assert not creds.verify("admin", "s3cret-pas")
    assert not creds.verify("Admin", "s3cret-pass")
    assert "s3cret-pass" not in repr(creds)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/attention?state=dead", "/attention?state=dead"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        (None, "/"),
    ],
)
def test_safe_next_stays_on_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
