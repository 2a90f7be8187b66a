"""The timestamp of the oldest unconsumed record of a partition: one small fetch at the
consumer group's position.

A lag in records says how much is left; the record at the committed offset says how long
ago the oldest of it was written. One Fetch request per lagging partition, asking for at
most FETCH_BYTES (the broker still returns the whole first record batch when it is larger,
so one request always answers); partitions without lag are never fetched. The request goes
through the inspector's own group-less consumer connection: it joins no group and moves no
offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import LeaderNotAvailableError, OffsetOutOfRangeError, for_code
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords

FETCH_BYTES = 16 * 1024
READ_UNCOMMITTED = 0  # what the projection's consumer reads, so the same records


async def record_time(client: Any, topic: str, partition: int, offset: int) -> datetime | None:
    """When the first record at or after `offset` was written (its Kafka timestamp: the
    producer's clock for CreateTime topics, the broker's for LogAppendTime); None when
    the partition holds no data record there (only transaction markers, or nothing, or the
    offset is no longer in the log).

    `client` is an `aiokafka.AIOKafkaClient` whose metadata knows the topic."""
    tp = TopicPartition(topic, partition)
    leader = client.cluster.leader_for_partition(tp)
    if leader is None or leader == -1:
        client.add_topic(topic)
        raise LeaderNotAvailableError(f"no known leader for {topic}-{partition} yet")
    request = FetchRequest(
        0,  # max wait: the records are there already, or there is nothing to wait for
        1,
        FETCH_BYTES,
        READ_UNCOMMITTED,
        [(topic, [(partition, offset, FETCH_BYTES)])],
    )
    response = await client.send(leader, request)
    for _topic, partitions in response.topics:
        for number, error_code, _high_watermark, *data in partitions:
            if number != partition:
                continue
            error = for_code(error_code) if error_code else None
            if error is OffsetOutOfRangeError:
                return None  # retention deleted it since the lag was read: no age this poll
            if error is not None:
                raise error(f"fetching {topic}-{partition} at {offset}")
            return first_timestamp(MemoryRecords(data[-1]), offset)
    return None


def first_timestamp(records: Any, offset: int) -> datetime | None:
    """The timestamp of the first data record at or after `offset` in fetched batches (a
    batch may start before the offset asked for; control batches hold no data)."""
    while records.has_next():
        batch = records.next_batch()
        if batch is None:
            break
        if getattr(batch, "is_control_batch", False):
            continue
        for record in batch:
            if record.offset >= offset:
                return datetime.fromtimestamp(record.timestamp / 1000, UTC)
    return None
