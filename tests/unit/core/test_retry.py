from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector.core.errors import (
    ApiValidationError,
    AuthError,
    InvalidGrantError,
    MissingScopeError,
    NeedsAttentionError,
    RateLimitedError,
    SkippableError,
    TransientApiError,
)
from ml_connector.core.retry import DeadLetter, NeedsAttention, Retry, RetryPolicy, describe

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    max_attempts=5, base=timedelta(seconds=10), factor=2, cap=timedelta(minutes=10)
)


def _transient() -> TransientApiError:
    return TransientApiError("upstream 503", system="ramp", status=503)


def test_retriable_error_is_retried_with_growing_backoff() -> None:
    delays = []
    for attempts in (1, 2, 3):
        decision = POLICY.decide(_transient(), attempts=attempts, now=NOW, jitter=0.999)
        assert isinstance(decision, Retry)
        delays.append(decision.at - NOW)
    assert delays[0] < delays[1] < delays[2]
    assert delays[0] == pytest.approx(timedelta(seconds=10), abs=timedelta(milliseconds=10))


def test_jitter_spreads_within_the_configured_band() -> None:
    low = POLICY.decide(_transient(), attempts=2, now=NOW, jitter=0.0)
    high = POLICY.decide(_transient(), attempts=2, now=NOW, jitter=0.99)
    assert isinstance(low, Retry)
    assert isinstance(high, Retry)
    assert low.at - NOW == timedelta(seconds=10)  # 20 s scaled by 1 - 0.5
    assert low.at < high.at


def test_backoff_is_capped() -> None:
    decision = POLICY.decide(_transient(), attempts=4, now=NOW, jitter=0.999, max_attempts=100)
    assert isinstance(decision, Retry)
    far = POLICY.decide(_transient(), attempts=90, now=NOW, jitter=0.999, max_attempts=100)
    assert isinstance(far, Retry)
    assert far.at - NOW <= POLICY.cap


def test_retry_after_is_a_floor() -> None:
    error = RateLimitedError("slow down", system="ramp", retry_after=120)
    decision = POLICY.decide(error, attempts=1, now=NOW, jitter=0.0)
    assert isinstance(decision, Retry)
    assert decision.at == NOW + timedelta(seconds=120)
    jittered = POLICY.decide(error, attempts=1, now=NOW, jitter=0.5)
    assert isinstance(jittered, Retry)
    assert jittered.at > NOW + timedelta(seconds=120)


def test_short_retry_after_does_not_shorten_backoff() -> None:
    error = RateLimitedError("slow down", system="ramp", retry_after=1)
    decision = POLICY.decide(error, attempts=3, now=NOW, jitter=0.0)
    assert isinstance(decision, Retry)
    assert decision.at - NOW == timedelta(seconds=20)


def test_attempts_used_up_dead_letters_with_reason() -> None:
    decision = POLICY.decide(_transient(), attempts=5, now=NOW, jitter=0.1)
    assert isinstance(decision, DeadLetter)
    assert "5 attempts" in decision.reason
    assert "upstream 503" in decision.reason


def test_job_limit_overrides_policy_limit() -> None:
    assert isinstance(
        POLICY.decide(_transient(), attempts=2, now=NOW, jitter=0.1, max_attempts=2), DeadLetter
    )


@pytest.mark.parametrize(
    "error",
    [
        ApiValidationError("Unknown field.", system="ramp", status=422),
        InvalidGrantError("refresh token reused", system="freshbooks", status=400),
    ],
)
def test_fatal_errors_dead_letter_immediately(error: Exception) -> None:
    decision = POLICY.decide(error, attempts=1, now=NOW, jitter=0.1)
    assert isinstance(decision, DeadLetter)
    assert type(error).__name__ in decision.reason


def test_skippable_errors_need_attention() -> None:
    decision = POLICY.decide(
        NeedsAttentionError("two Ramp vendors match 'Acme'", code="ambiguous_vendor"),
        attempts=1,
        now=NOW,
        jitter=0.1,
    )
    assert decision == NeedsAttention(
        reason="two Ramp vendors match 'Acme'", code="ambiguous_vendor"
    )
    plain = POLICY.decide(
        SkippableError("no card transaction yet"), attempts=1, now=NOW, jitter=0.1
    )
    assert isinstance(plain, NeedsAttention)
    assert plain.code == "skipped"


def test_unknown_errors_are_retried() -> None:
    assert isinstance(POLICY.decide(KeyError("x"), attempts=1, now=NOW, jitter=0.1), Retry)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="jitter"):
        POLICY.decide(_transient(), attempts=1, now=NOW, jitter=1.0)
    with pytest.raises(ValueError, match="aware"):
        POLICY.decide(_transient(), attempts=1, now=NOW.replace(tzinfo=None), jitter=0.1)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_describe_is_one_bounded_line() -> None:
    text = describe(ValueError("a\nb" + "x" * 5000))
    assert "\n" not in text
    assert len(text) <= 1000
    assert text.startswith("ValueError: a b")


@given(
    attempts=st.integers(min_value=1, max_value=200),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
    retry_after=st.none() | st.floats(min_value=0, max_value=86_400),
)
def test_retry_is_never_in_the_past_nor_before_retry_after(
    attempts: int, jitter: float, retry_after: float | None
) -> None:
    error = RateLimitedError("429", system="ramp", retry_after=retry_after)
    decision = POLICY.decide(error, attempts=attempts, now=NOW, jitter=jitter, max_attempts=1000)
    assert isinstance(decision, Retry)
    assert decision.at > NOW
    if retry_after:
        assert decision.at >= NOW + timedelta(seconds=retry_after)
    else:
        assert decision.at - NOW <= POLICY.cap


def test_a_plain_401_is_retried_briefly_then_dead_lettered() -> None:
    """Racing workers can see a 401 on a token another one just replaced; a revoked grant
    still ends in the dead letters, and invalid_grant or a missing scope at once."""
    policy = RetryPolicy()
    racing = AuthError("401 after renewal", system="freshbooks", status=401)
    assert isinstance(policy.decide(racing, attempts=1, now=NOW, jitter=0.0), Retry)
    assert isinstance(policy.decide(racing, attempts=2, now=NOW, jitter=0.0), Retry)
    assert isinstance(policy.decide(racing, attempts=3, now=NOW, jitter=0.0), DeadLetter)
    for final in (
        InvalidGrantError("spent", system="freshbooks", status=400),
        MissingScopeError("no scope", system="ramp", status=401),
        AuthError("forbidden", system="ramp", status=403),
    ):
        assert isinstance(policy.decide(final, attempts=1, now=NOW, jitter=0.0), DeadLetter)
