"""Gated reads, the pure parts: parsing the gate, waking waiters, bounding them."""

from __future__ import annotations

import asyncio
import time

import pytest

from readside_query.errors import ApiError
from readside_query.gating import Gates, body_version, parse_gate

pytestmark = pytest.mark.unit


def test_a_gate_is_parsed_with_its_wait_capped() -> None:
    gate = parse_gate("0:120,3:98", "4", "60", default_wait=5, max_wait=30)
    assert gate is not None
    assert (gate.min_offsets, gate.min_version, gate.wait_seconds) == ({0: 120, 3: 98}, 4, 30)
    assert parse_gate(None, None, "1", default_wait=5, max_wait=30) is None
    default = parse_gate(None, "2", None, default_wait=5, max_wait=30)
    assert default is not None
    assert default.wait_seconds == 5


@pytest.mark.parametrize(
    ("offsets", "version", "wait", "bad"),
    [
        ("0:1,", None, None, ["min_offsets"]),
        ("-1:5", "0", None, ["min_offsets", "min_version"]),
        (None, "x", "nan", ["min_version", "wait"]),
        ("1:2", None, "-3", ["wait"]),
    ],
)
def test_bad_gates_name_every_bad_parameter(
    offsets: str | None, version: str | None, wait: str | None, bad: list[str]
) -> None:
    with pytest.raises(ApiError) as raised:
        parse_gate(offsets, version, wait, default_wait=5, max_wait=30)
    assert raised.value.status_code == 400
    assert [d["parameter"] for d in raised.value.detail] == bad


def test_the_version_of_an_order_body_is_its_last_field() -> None:
    assert body_version(b'{"order_id":"x","version":12}') == 12
    assert body_version(b"{}") == 0


async def test_a_waiter_wakes_on_the_push_that_reaches_its_offsets() -> None:
    gates = Gates(max_waiting=10)
    refreshes = 0

    async def done() -> bool:
        return gates.reached({0: 11})

    async def refresh() -> None:
        nonlocal refreshes
        refreshes += 1

    waiter = asyncio.create_task(gates.until(done, refresh, time.monotonic() + 5))
    await asyncio.sleep(0.01)
    gates.observe({0: 5})
    await asyncio.sleep(0.01)
    assert not waiter.done()
    gates.observe({0: 11, 1: 3})
    assert await waiter is True
    assert refreshes == 1  # once when it started waiting, never in a loop


async def test_past_the_deadline_it_reads_once_more_then_gives_up() -> None:
    gates = Gates(max_waiting=10)
    refreshes = 0

    async def refresh() -> None:
        nonlocal refreshes
        refreshes += 1

    async def never() -> bool:
        return False

    assert await gates.until(never, refresh, time.monotonic() + 0.05) is False
    assert refreshes == 2


async def test_waiters_beyond_the_bound_are_refused_with_retry_after() -> None:
    gates = Gates(max_waiting=1)

    async def never() -> bool:
        return False

    async def refresh() -> None:
        return None

    first = asyncio.create_task(gates.until(never, refresh, time.monotonic() + 0.5))
    await asyncio.sleep(0.01)
    with pytest.raises(ApiError) as raised:
        await gates.until(never, refresh, time.monotonic() + 0.5)
    assert (raised.value.status_code, raised.value.headers) == (503, {"retry-after": "1"})
    gates.reset()
    assert await first is False
