"""Keeping a dead Redis off the request path: a circuit breaker and a rate-limited log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed until a failure; then open (calls skipped) for `open_seconds`.

    When the window ends one caller is let through as a probe and the window starts again
    for everyone else; the probe's success closes the breaker.
    """

    def __init__(self, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_seconds = open_seconds
        self._clock = clock
        self._open_until = 0.0

    def allows(self) -> bool:
        if self._open_until == 0.0:
            return True
        now = self._clock()
        if now < self._open_until:
            return False
        self._open_until = now + self.open_seconds
        return True

    def succeeded(self) -> None:
        self._open_until = 0.0

    def failed(self) -> None:
        self._open_until = self._clock() + self.open_seconds


class RateLimitedLog:
    """At most one warning per `interval` seconds; says how many were held back."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._next_at = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> bool:
        now = self._clock()
        if now < self._next_at:
            self._suppressed += 1
            return False
        if self._suppressed:
            message += " (%d similar messages suppressed)"
            args = (*args, self._suppressed)
        self._logger.warning(message, *args)
        self._next_at = now + self._interval
        self._suppressed = 0
        return True
