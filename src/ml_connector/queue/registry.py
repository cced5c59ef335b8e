"""Job kinds and their handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ml_connector.queue.jobs import Job

Handler = Callable[[Job], Awaitable[None]]
"""Runs one attempt of a job. Raise an error from `core.errors` to steer the retry policy."""


class UnknownJobKindError(LookupError):
    """No handler is registered for a job's kind (a deploy dropped it, or a typo)."""


class Registry:
    """Maps job kinds to handlers; the sync layer registers its use cases here."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self._handlers[kind] = handler

    def handler(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator form of `register`."""

        def decorate(handler: Handler) -> Handler:
            self.register(kind, handler)
            return handler

        return decorate

    def get(self, kind: str) -> Handler:
        try:
            return self._handlers[kind]
        except KeyError:
            raise UnknownJobKindError(f"no handler registered for job kind {kind!r}") from None

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def __contains__(self, kind: object) -> bool:
        return kind in self._handlers


__all__ = ["Handler", "Registry", "UnknownJobKindError"]
