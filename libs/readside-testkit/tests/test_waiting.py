"""The kit's waits: they return the first truthy value and fail naming what never happened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from readside_testkit.waiting import eventually, wait_until

pytestmark = pytest.mark.unit


def counter(until: int) -> Callable[[], int]:
    """A check that is falsy (0) until its `until`-th call, which returns `until`."""
    calls = {"n": 0}

    def check() -> int:
        calls["n"] += 1
        return calls["n"] if calls["n"] >= until else 0

    return check


async def test_eventually_awaits_an_async_check_and_returns_its_first_truthy_value() -> None:
    check = counter(3)

    async def async_check() -> int:
        return check()

    assert await eventually(async_check, within=5, interval=0.001) == 3


async def test_eventually_also_takes_a_plain_check() -> None:
    assert await eventually(counter(2), within=5, interval=0.001) == 2


async def test_eventually_fails_at_the_deadline_naming_what_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the answer; last value: \[\]"):
        await eventually(list, within=0.05, what="the answer", interval=0.01)


def test_wait_until_returns_the_first_truthy_value_or_fails_at_the_deadline() -> None:
    assert wait_until(counter(2), within=5, interval=0.001) == 2
    with pytest.raises(AssertionError, match=r"timed out after 0\.05s waiting for nothing"):
        wait_until(lambda: None, within=0.05, what="nothing", interval=0.01)


async def test_eventually_fails_when_a_check_never_returns() -> None:
    async def stuck() -> bool:  # a client waiting on a server that went away
        await asyncio.Event().wait()
        return True

    never = r"after 0\.1s waiting for the offsets: a check never returned"
    with pytest.raises(AssertionError, match=never):
        await eventually(stuck, within=0.05, what="the offsets")


async def test_eventually_lets_a_checks_own_timeout_error_through() -> None:
    async def refused() -> bool:
        raise TimeoutError("the server's own")

    with pytest.raises(TimeoutError, match="the server's own"):
        await eventually(refused, within=5)
