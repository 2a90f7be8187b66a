"""Read-after-write: answer a read only once the read model has applied what the client wrote.

A client names what it needs with query parameters (documented in the OpenAPI document):
- `min_offsets=0:120,3:98`: the served read-model version has stored offsets past these
  (partition:offset of the records the client published, from its producer's acks, on the
  topic KAFKA_TOPIC). Rows and offsets commit in one transaction, so this means "my events
  are applied". Every read route takes it.
- `min_version=N` (one order, by id or number): the order's `version` is at least N.
- `wait=S`: how long to wait at most (default GATED_WAIT_SECONDS, capped by
  GATED_WAIT_MAX_SECONDS).

Waiting is push-driven: the projection's message after each commit (readside_core.cache
Invalidation, with the offsets it stored and the orders it changed) wakes the waiting
requests; PostgreSQL is read once when a request starts waiting and once more at its
deadline, never in a loop. Past the deadline: 412 with what was asked, what was reached, and
Retry-After. At most GATED_MAX_WAITING requests wait per process; beyond: 503, Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from readside_query.errors import ApiError, bad_request
from readside_query.params import problem

# What the parser accepts, stated as is in the OpenAPI document (readside_query.routes).
OFFSETS_PATTERN = r"^[0-9]{1,9}:[0-9]{1,18}(,[0-9]{1,9}:[0-9]{1,18})*$"
MAX_MIN_VERSION = 10**18 - 1
_OFFSETS = re.compile(OFFSETS_PATTERN)
_DIGITS = re.compile(r"[0-9]{1,18}")
_VERSION = re.compile(rb'"version":([0-9]+)}$')


@dataclass(frozen=True, slots=True)
class GateConfig:
    """The process's settings for gated reads (from QuerySettings)."""

    topic: str
    consumer_group: str
    default_wait: float
    max_wait: float


def format_offsets(offsets: dict[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


@dataclass(frozen=True, slots=True)
class Gate:
    """What one request waits for (None: nothing of that kind) and until when."""

    min_offsets: dict[int, int] | None
    min_version: int | None
    wait_seconds: float
    # Fixed when the request is parsed: waiting for the offsets, then for the version, shares
    # one budget of `wait_seconds` (a property read at each wait gave each wait a full one).
    deadline: float


def parse_gate(
    min_offsets: str | None,
    min_version: str | None,
    wait: str | None,
    *,
    default_wait: float,
    max_wait: float,
) -> Gate | None:
    """The request's gate; None for an ungated read; 400 naming every bad parameter (a bad
    `wait` too, even without a gate)."""
    problems: list[dict[str, Any]] = []
    offsets = None
    if min_offsets is not None:
        if _OFFSETS.fullmatch(min_offsets):
            pairs = (item.split(":") for item in min_offsets.split(","))
            offsets = {int(p): int(o) for p, o in pairs}
        else:
            message = (
                f"min_offsets must be PARTITION:OFFSET[,...] like 0:120,3:98, got {min_offsets!r}"
            )
            problems.append(problem("min_offsets", "query", message))
    version = _integer(problems, "min_version", min_version, 1)
    seconds = float(default_wait)
    if wait is not None:
        try:
            seconds = float(wait)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError
        except ValueError:
            message = f"wait must be a number of seconds >= 0 (at most {max_wait:g}), got {wait!r}"
            problems.append(problem("wait", "query", message))
    if problems:
        raise bad_request(problems)
    if min_offsets is None and min_version is None:
        return None
    seconds = min(seconds, max_wait)
    return Gate(offsets, version, seconds, time.monotonic() + seconds)


def _integer(
    problems: list[dict[str, Any]], name: str, raw: str | None, minimum: int
) -> int | None:
    if raw is None:
        return None
    if _DIGITS.fullmatch(raw) and int(raw) >= minimum:
        return int(raw)
    problems.append(problem(name, "query", f"{name} must be an integer >= {minimum}, got {raw!r}"))
    return None


def body_version(body: bytes) -> int:
    """An order body's version: its last field (the cache protocol relies on that too)."""
    found = _VERSION.search(body)
    return int(found.group(1)) if found else 0


class NotReached(ApiError):
    """412: the deadline passed before the read model reached what the request asked."""

    def __init__(self, asked: dict[str, Any], reached: dict[str, Any], retry_after: int) -> None:
        super().__init__(
            412,
            "the read model has not applied what this request waits for yet; retry later",
            [
                {
                    "parameter": key,
                    "source": "query",
                    "message": f"asked {asked[key]}, reached {reached.get(key)}",
                }
                for key in asked
            ],
        )
        self.headers["retry-after"] = str(retry_after)


class Gates:
    """The offsets the served version has stored, as pushed by the projection, and the
    requests waiting on them or on an order's next change. One per query process."""

    def __init__(self, max_waiting: int) -> None:
        self.offsets: dict[int, int] = {}
        self._max_waiting = max_waiting
        self._waiting = 0
        self._wakers: set[asyncio.Future[None]] = set()

    def reset(self) -> None:
        """Another version is served now: what was known of the old one no longer holds."""
        self.offsets = {}
        self._wake()

    def observe(self, offsets: dict[int, int], orders_changed: bool = True) -> None:
        for partition, offset in offsets.items():
            if offset > self.offsets.get(partition, -1):
                self.offsets[partition] = offset
        if offsets or orders_changed:
            self._wake()

    def reached(self, wanted: dict[int, int]) -> bool:
        return all(self.offsets.get(p, 0) >= o for p, o in wanted.items())

    def _wake(self) -> None:
        for waker in self._wakers:
            if not waker.done():
                waker.set_result(None)
        self._wakers.clear()

    async def until(
        self,
        done: Callable[[], Awaitable[bool]],
        refresh: Callable[[], Awaitable[None]],
        deadline: float,
    ) -> bool:
        """Wait until `done()` or the deadline; `done` is re-checked at each push."""
        if await done():
            return True
        if self._waiting >= self._max_waiting:
            raise ApiError(
                503, f"{self._waiting} requests are waiting already here; retry shortly"
            ).with_headers({"retry-after": "1"})
        self._waiting += 1
        try:
            await refresh()
            while not await done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    await refresh()
                    return await done()
                waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._wakers.add(waker)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waker, remaining)
            return True
        finally:
            self._waiting -= 1
