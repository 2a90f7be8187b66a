"""readside_kafka against the real broker (hack/stack): lag, group state, offset planning."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.structs import OffsetAndMetadata

from readside_kafka import KafkaInspector, KafkaLookupError, ResetError, ResetTarget
from readside_kafka.record_time import record_time

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


async def test_records_deleted_by_retention_are_not_lag(
    stack_env: dict[str, str], topic: str
) -> None:
    """Retention is reproduced with `delete_records` (what the broker's retention does to the
    log start, without waiting for its hourly-by-default check): the commit at 1 on partition
    0 now points below the log start 4, and the uncommitted partition 1 starts at 2."""
    brokers, group = stack_env["KAFKA_BROKERS"], f"g-{uuid.uuid4().hex[:6]}"
    await _commit(brokers, group, topic, {0: 1})
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        deleted = {
            TopicPartition(topic, 0): RecordsToDelete(4),
            TopicPartition(topic, 1): RecordsToDelete(2),
        }
        await admin.delete_records(deleted)
    finally:
        await admin.close()
    async with KafkaInspector(brokers) as kafka:
        lag = await kafka.lag(topic, group)
    by_partition = {row.partition: row for row in lag.partitions}
    first, second = by_partition[0], by_partition[1]
    assert (first.committed, first.log_start, first.position, first.lag) == (1, 4, 4, 2)
    assert (second.committed, second.log_start, second.position, second.lag) == (None, 2, 2, 1)
    assert lag.total == 3  # not 5 + 3 = 8, as end minus commit (or 0) would say


async def test_the_oldest_unconsumed_record_is_read_only_where_there_is_lag(
    stack_env: dict[str, str],
) -> None:
    brokers, group = stack_env["KAFKA_BROKERS"], f"g-{uuid.uuid4().hex[:6]}"
    name = f"inspector-times-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1)])
    finally:
        await admin.close()
    base = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        for partition in (0, 1):  # records 10 s apart; partition 2 stays empty
            for n in range(4):
                stamp = base + timedelta(minutes=partition, seconds=10 * n)
                millis = int(stamp.timestamp() * 1000)
                await producer.send_and_wait(name, b"x", partition=partition, timestamp_ms=millis)
    finally:
        await producer.stop()
    await _commit(brokers, group, name, {0: 2, 1: 4})
    async with KafkaInspector(brokers) as kafka:
        plain = await kafka.lag(name, group)
        timed = await kafka.lag(name, group, with_times=True)
    assert all(row.oldest is None for row in plain.partitions)
    by_partition = {row.partition: row for row in timed.partitions}
    assert by_partition[0].oldest == base + timedelta(seconds=20)  # the record at offset 2
    assert (by_partition[1].lag, by_partition[1].oldest) == (0, None)  # no lag: no fetch
    assert (by_partition[2].lag, by_partition[2].oldest) == (0, None)


async def test_an_offset_retention_just_deleted_has_no_record_time(
    stack_env: dict[str, str], topic: str
) -> None:
    """The race between reading the log start and fetching at the position: no age, no error."""
    brokers = stack_env["KAFKA_BROKERS"]
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(3)})
    finally:
        await admin.close()
    async with KafkaInspector(brokers) as kafka:
        await kafka.lag(topic, "anyone")  # loads the topic's metadata
        client = kafka._consumer._client
        assert await record_time(client, topic, 0, 1) is None
        assert await record_time(client, topic, 0, 3) is not None
