"""Crash safety, rebalances, broker and database restarts: the final state is the exact fold."""

from __future__ import annotations

import asyncio
import random
import signal
from typing import Any

import pytest

from readside_projection.generator import generate
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration


async def _progress(harness: Any) -> int:
    return sum((await harness.stored_offsets()).values())


async def _wait_progress(harness: Any, at_least: int, within: float = 60) -> None:
    async def reached() -> bool:
        return await _progress(harness) >= at_least

    await eventually(reached, within, f"{at_least} events stored", interval=0.1)


async def _wait_group_stable(harness: Any) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=harness.brokers)
    await admin.start()

    async def stable() -> bool:
        groups = (await admin.describe_consumer_groups([harness.group]))[0].groups
        return bool(groups) and groups[0][2] == "Stable"

    try:
        await eventually(stable, 60, f"group {harness.group} to be Stable", interval=0.1)
    finally:
        await admin.close()


async def test_two_consumers_with_a_rebalance_mid_stream_lose_and_double_nothing(
    harness: Any, assert_exact: Any
) -> None:
    messages = list(generate(6000, seed=21, duplicate_rate=0.05))
    half = len(messages) // 2
    first = harness.projection()
    await harness.publish(messages[:half])
    await _wait_progress(harness, half // 4)
    second = harness.projection()  # joins: the group rebalances while events flow
    publishing = asyncio.create_task(harness.publish(messages[half:]))
    await _wait_progress(harness, half + half // 4)
    first.kill(signal.SIGTERM)  # leaves: another rebalance, second takes every partition
    await publishing
    await harness.wait_caught_up()
    assert second.alive()
    await assert_exact(messages)


@pytest.mark.slow
async def test_kill_9_at_random_moments_loses_nothing_and_applies_nothing_twice(
    harness: Any, assert_exact: Any
) -> None:
    messages = list(generate(15000, seed=42, duplicate_rate=0.08))[:50_000]
    assert len(messages) >= 50_000
    rng = random.Random(7)
    publishing = asyncio.create_task(harness.publish(messages))
    process = harness.projection(BATCH_MAX_RECORDS="500")
    killed_at: list[int] = []
    while len(killed_at) < 10:
        # Let the new process commit something first, so every kill lands mid-stream.
        await _wait_progress(harness, (killed_at[-1] if killed_at else 0) + 1)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        process.kill(signal.SIGKILL)
        killed_at.append(await _progress(harness))
        process = harness.projection(BATCH_MAX_RECORDS="500")
    await publishing
    await harness.wait_caught_up(within=240)
    print(f"\nkilled -9 at stored progress {killed_at} of {len(messages)} events")
    assert killed_at == sorted(set(killed_at)), "each kill after new progress"
    assert killed_at[-1] < len(messages), "the last kill came before the end of the stream"
    await assert_exact(messages)


async def test_a_kafka_broker_restart_mid_stream_recovers_exactly(
    harness: Any, assert_exact: Any, stack_ctl: Any
) -> None:
    messages = list(generate(5000, seed=5, duplicate_rate=0.03))
    half = len(messages) // 2
    harness.projection()
    await harness.publish(messages[:half])
    await _wait_progress(harness, half // 3)
    stack_ctl("restart", "kafka")
    await harness.publish(messages[half:])
    await harness.wait_caught_up(within=180)
    await assert_exact(messages)


async def test_a_postgresql_restart_mid_stream_recovers_exactly(
    harness: Any, assert_exact: Any, stack_ctl: Any
) -> None:
    messages = list(generate(5000, seed=6, duplicate_rate=0.03))
    harness.projection()
    publishing = asyncio.create_task(harness.publish(messages))
    await _wait_progress(harness, len(messages) // 5)
    stack_ctl("restart", "postgres")
    await publishing
    await harness.wait_caught_up(within=180)
    await assert_exact(messages)


async def test_a_topic_created_after_start_up_is_read_from_its_first_offset(
    harness: Any, assert_exact: Any
) -> None:
    from readside_projection.events_tool import publish

    await harness.create_topic(4)
    # Started at once, it may join before the new topic's metadata reaches it.
    harness.projection(BATCH_TIMEOUT_MS="20")
    await _wait_group_stable(harness)
    messages = list(generate(6000, seed=9))
    # Events flow for longer than the consumer's metadata refresh (10 s): the partitions are
    # assigned while the topic fills, and must still be read from offset 0.
    await publish(messages, brokers=harness.brokers, topic=harness.topic, rate=1300)
    await harness.wait_caught_up(within=120)
    await assert_exact(messages)


@pytest.mark.parametrize("run", range(3))
async def test_two_processes_joining_a_topic_created_moments_before_lose_nothing(
    harness: Any, assert_exact: Any, run: int
) -> None:
    """The condition of a loss seen once (session 1, with a since-removed prefetch): a
    4-partition topic created just before two projection processes join one group, events
    published while they join and rebalance. Every record must be applied exactly once."""
    await harness.create_topic(4)
    messages = list(generate(4000, seed=100 + run, duplicate_rate=0.05))
    harness.projection()
    publishing = asyncio.create_task(harness.publish(messages))
    await asyncio.sleep(random.Random(run).uniform(0.0, 1.5))  # seeded: a run can be replayed
    harness.projection()  # the second member forces a rebalance mid-stream
    await publishing
    await harness.wait_caught_up(within=180)
    await assert_exact(messages)
