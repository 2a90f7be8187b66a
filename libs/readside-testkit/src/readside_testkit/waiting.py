"""Waiting for a condition with a deadline, instead of sleeping for a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]], within: float = ..., what: str = ..., interval: float = ...
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T], within: float = ..., what: str = ..., interval: float = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any],
    within: float = 10.0,
    what: str = "the condition",
    interval: float = 0.05,
) -> Any:
    """Call `check()` (awaiting it if it returns an awaitable) until its value is truthy, and
    return that value; raise AssertionError naming `what` once `within` seconds have passed.
    A check still awaiting then may take `within` seconds more (a slow call that answers is
    an answer); one that has not returned by then fails the wait (a client stuck on a server
    that went away) instead of hanging the test."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            limit = asyncio.timeout(max(deadline - time.monotonic(), 0) + within)
            try:
                async with limit:
                    value = await value
            except TimeoutError:
                if not limit.expired():
                    raise
                raise AssertionError(
                    f"timed out after {2 * within}s waiting for {what}: a check never returned"
                ) from None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(timed_out(within, what, value))
        await asyncio.sleep(interval)


def wait_until(
    check: Callable[[], T],
    within: float = 10.0,
    what: str = "the condition",
    interval: float = 0.05,
) -> T:
    """`eventually` for code without an event loop: blocks the calling thread."""
    deadline = time.monotonic() + within
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(timed_out(within, what, value))
        time.sleep(interval)
    return value


def timed_out(within: float, what: str, last: object) -> str:
    return f"timed out after {within}s waiting for {what}; last value: {last!r}"
