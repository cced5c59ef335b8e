"""Job-level retry policy: what to do after an attempt failed.

Pure: the caller passes the error, the attempt count, the current time and a jitter draw
in [0, 1); the policy returns a decision value that the queue persists. In-call retries
(seconds, inside one attempt) belong to stamina in the clients; this policy governs the
minutes-to-hours scale that must survive restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ml_connector.core.errors import (
    AuthError,
    FatalError,
    InvalidGrantError,
    MissingScopeError,
    NeedsAttentionError,
    RetriableError,
    SkippableError,
)


@dataclass(frozen=True, kw_only=True)
class Retry:
    """Run the job again, not before `at`."""

    at: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    """Stop retrying; a human replays the job once the cause is fixed."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class NeedsAttention:
    """The object cannot be processed as it is; park it with a reason a clerk can act on."""

    reason: str
    code: str


RetryDecision = Retry | DeadLetter | NeedsAttention


def describe(error: BaseException) -> str:
    """A one-line description of `error` for job history.

    Our error tree guarantees messages without secrets; the type name makes the history
    readable without a traceback.
    """
    text = str(error).strip().replace("\n", " ")
    name = type(error).__name__
    summary = f"{name}: {text}" if text else name
    return summary[:1000]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, that never retries before `Retry-After`.

    The delay before attempt n+1 (after n failed attempts) is
    ``min(cap, base * factor ** (n - 1))`` scaled into ``[1 - jitter_ratio, 1]`` by the
    jitter draw, so simultaneous failures spread out instead of returning together. A
    server's `retry_after` is a floor: the job waits at least that long, plus up to
    `jitter_ratio` of it so that every job throttled by the same 429 does not return in
    the same instant.
    """

    max_attempts: int = 10
    base: timedelta = timedelta(seconds=15)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=2)
    jitter_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter_ratio <= 1:
            raise ValueError("jitter_ratio must be within [0, 1]")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")

    def backoff(self, attempts: int, jitter: float) -> timedelta:
        """The jittered delay after `attempts` failed attempts (attempts >= 1)."""
        _check_jitter(jitter)
        exponent = max(attempts - 1, 0)
        cap = self.cap.total_seconds()
        # Grow in floats but stop before overflow: the cap is reached long before.
        raw = self.base.total_seconds()
        for _ in range(exponent):
            raw *= self.factor
            if raw >= cap:
                break
        raw = min(raw, cap)
        scaled = raw * (1 - self.jitter_ratio + self.jitter_ratio * jitter)
        return timedelta(seconds=scaled)

    def decide(
        self,
        error: BaseException,
        *,
        attempts: int,
        now: datetime,
        jitter: float,
        max_attempts: int | None = None,
    ) -> RetryDecision:
        """Decide the fate of a job whose `attempts`-th attempt raised `error`.

        Args:
            error: what the attempt raised.
            attempts: attempts made so far, including the one that just failed.
            now: the current time (aware).
            jitter: a uniform draw in [0, 1) from the caller's random source.
            max_attempts: the job's own limit, overriding the policy's.

        Returns:
            `NeedsAttention` for skippable errors, `DeadLetter` for fatal errors or when
            the attempts are used up, otherwise `Retry` with the time to try again.
        """
        _check_jitter(jitter)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if isinstance(error, NeedsAttentionError):
            return NeedsAttention(reason=error.reason, code=error.code)
        if isinstance(error, SkippableError):
            return NeedsAttention(reason=describe(error), code="skipped")
        if _racing_401(error) and attempts < AUTH_RACE_ATTEMPTS:
            # A 401 after the auth flow renewed: usually a token another worker had just
            # replaced, or one expired in between. Try again shortly a couple of times;
            # a revoked grant still ends in the dead letters with its history.
            return Retry(at=now + self.backoff(attempts, jitter), reason=describe(error))
        if isinstance(error, FatalError):
            return DeadLetter(reason=describe(error))
        limit = self.max_attempts if max_attempts is None else max_attempts
        if attempts >= limit:
            return DeadLetter(reason=f"gave up after {attempts} attempts: {describe(error)}")
        delay = self.backoff(attempts, jitter)
        retry_after = error.retry_after if isinstance(error, RetriableError) else None
        if retry_after is not None and retry_after > 0:
            floor = timedelta(seconds=retry_after * (1 + self.jitter_ratio * jitter))
            delay = max(delay, floor)
        # Anything outside our tree (a bug, a driver hiccup) is retried: a transient cause
        # heals by itself, and a real bug still ends in the dead-letter list with its history.
        return Retry(at=now + delay, reason=describe(error))


AUTH_RACE_ATTEMPTS = 3
"""Attempts a job gets when each ends in a plain 401 (see `RetryPolicy.decide`)."""


def _racing_401(error: BaseException) -> bool:
    return (
        isinstance(error, AuthError)
        and not isinstance(error, InvalidGrantError | MissingScopeError)
        and error.status == 401
    )


def _check_jitter(jitter: float) -> None:
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be a draw in [0, 1)")


__all__ = ["DeadLetter", "NeedsAttention", "Retry", "RetryDecision", "RetryPolicy", "describe"]
