"""readside_kafka against the real broker (hack/stack): lag, group state, offset planning."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from readside_kafka import KafkaInspector, KafkaLookupError, ResetError, ResetTarget

pytestmark = pytest.mark.integration


@pytest.fixture
async def topic(stack_env: dict[str, str]) -> str:
    """A fresh topic of two partitions: 6 records in partition 0, 3 in partition 1."""
    name = f"inspector-{uuid.uuid4().hex[:8]}"
    brokers = stack_env["KAFKA_BROKERS"]
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        for partition, count in ((0, 6), (1, 3)):
            for n in range(count):
                await producer.send_and_wait(name, f"{n}".encode(), partition=partition)
    finally:
        await producer.stop()
    return name


async def _commit(brokers: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = {TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


async def test_lag_counts_from_the_committed_offset_or_the_log_start(
    stack_env: dict[str, str], topic: str
) -> None:
    brokers, group = stack_env["KAFKA_BROKERS"], f"g-{uuid.uuid4().hex[:6]}"
    async with KafkaInspector(brokers) as kafka:
        assert await kafka.partitions(topic) == {0, 1}
        assert (await kafka.lag(topic, group)).total == 9  # nothing committed: all of it
        await _commit(brokers, group, topic, {0: 4})
        lag = await kafka.lag(topic, group)
    by_partition = {row.partition: row for row in lag.partitions}
    assert (by_partition[0].committed, by_partition[0].end, by_partition[0].lag) == (4, 6, 2)
    assert (by_partition[1].committed, by_partition[1].lag) == (None, 3)
    assert lag.total == 5


async def test_group_state_counts_live_members_only(stack_env: dict[str, str], topic: str) -> None:
    brokers, group = stack_env["KAFKA_BROKERS"], f"g-{uuid.uuid4().hex[:6]}"
    member = AIOKafkaConsumer(topic, bootstrap_servers=brokers, group_id=group)
    async with KafkaInspector(brokers) as kafka:
        assert (await kafka.group_state(group)).members == 0
        await member.start()
        try:
            await member.getmany(timeout_ms=100)
            for _ in range(100):  # until the join completes
                if (await kafka.group_state(group)).members == 1:
                    break
                await asyncio.sleep(0.1)
            state = await kafka.group_state(group)
            assert (state.state, state.members) == ("Stable", 1)
        finally:
            await member.stop()


async def test_offset_plans_and_the_targets_refused(stack_env: dict[str, str], topic: str) -> None:
    async with KafkaInspector(stack_env["KAFKA_BROKERS"]) as kafka:
        assert await kafka.plan_offsets(topic, ResetTarget(earliest=True)) == {0: 0, 1: 0}
        assert await kafka.plan_offsets(topic, ResetTarget(offsets={1: 2})) == {0: 0, 1: 2}
        past = datetime.now(UTC) - timedelta(days=1)
        assert await kafka.plan_offsets(topic, ResetTarget(timestamp=past)) == {0: 0, 1: 0}
        with pytest.raises(ResetError, match="outside"):
            await kafka.plan_offsets(topic, ResetTarget(offsets={0: 7}))
        with pytest.raises(ResetError, match="does not exist"):
            await kafka.plan_offsets(topic, ResetTarget(offsets={5: 0}))
        future = datetime.now(UTC) + timedelta(days=1)
        with pytest.raises(ResetError, match="in the future"):
            await kafka.plan_offsets(topic, ResetTarget(timestamp=future))
        with pytest.raises(ResetError, match="does not exist on the brokers"):
            await kafka.plan_offsets(f"{topic}-missing", ResetTarget(earliest=True))


async def test_an_unreachable_cluster_is_one_clear_error() -> None:
    with pytest.raises(KafkaLookupError, match=r"127\.0\.0\.1:1\b"):
        async with KafkaInspector("127.0.0.1:1", timeout=2):
            pass
