"""Coalescing concurrent lookups into batch calls (the cold read path's Redis and SQL)."""

from __future__ import annotations

import asyncio

import pytest

from readside_core.coalesce import Coalescer

pytestmark = pytest.mark.unit


class Source:
    """A batch lookup that records each call: squares, or a failure on request."""

    def __init__(self, fail_on: int | None = None, hold: asyncio.Event | None = None) -> None:
        self.calls: list[list[int]] = []
        self._fail_on = fail_on
        self._hold = hold

    async def fetch(self, keys: list[int]) -> list[int]:
        self.calls.append(keys)
        if self._hold is not None:
            await self._hold.wait()
        if self._fail_on in keys:
            raise LookupError(f"no {self._fail_on}")
        return [key * key for key in keys]


async def test_calls_in_one_loop_iteration_share_one_batch_of_distinct_keys() -> None:
    source = Source()
    squares = Coalescer(source.fetch)
    answers = await asyncio.gather(*(squares(key) for key in (3, 1, 3, 2)))
    assert answers == [9, 1, 9, 4]
    assert source.calls == [[3, 1, 2]]


async def test_a_lone_call_is_answered_and_later_calls_make_new_batches() -> None:
    source = Source()
    squares = Coalescer(source.fetch)
    assert await squares(5) == 25
    assert await squares(6) == 36
    assert source.calls == [[5], [6]]


async def test_a_full_batch_goes_at_once_and_the_rest_follows() -> None:
    source = Source()
    squares = Coalescer(source.fetch, max_batch=3)
    answers = await asyncio.gather(*(squares(key) for key in range(7)))
    assert answers == [key * key for key in range(7)]
    assert source.calls == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_failed_batch_fails_each_of_its_callers_and_only_them() -> None:
    source = Source(fail_on=2)
    squares = Coalescer(source.fetch, max_batch=2)
    answers = await asyncio.gather(*(squares(key) for key in (1, 2, 3)), return_exceptions=True)
    assert [type(a) for a in answers[:2]] == [LookupError, LookupError]
    assert answers[2] == 9


async def test_a_cancelled_caller_leaves_the_batch_and_the_others_waiting_on_it() -> None:
    hold = asyncio.Event()
    source = Source(hold=hold)
    squares = Coalescer(source.fetch)
    leaving = asyncio.ensure_future(squares(4))
    staying = asyncio.ensure_future(squares(4))
    await asyncio.sleep(0)  # both joined; the batch call is under way
    await asyncio.sleep(0)
    leaving.cancel()
    hold.set()
    assert await staying == 16
    assert leaving.cancelled()
    assert source.calls == [[4]]
