"""Consumer-group lag that retention cannot inflate, and the age of what is left.

A partition's lag is its end offset minus the group's position, where the position is the
committed offset, or the log start when there is no commit or the commit points below the
log start (retention or `delete_records` removed those records: nobody will ever consume
them, so they are not lag). A group that never committed starts from the log start too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from readside_kafka.record_time import record_time


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int
    lag: int
    log_start: int = 0
    oldest: datetime | None = None  # timestamp of the oldest unconsumed record, when asked

    @property
    def position(self) -> int:
        """Where the group reads next: the commit, never below the log start."""
        return consumer_position(self.committed, self.log_start)


@dataclass(frozen=True, slots=True)
class GroupLag:
    topic: str
    group: str
    partitions: tuple[PartitionLag, ...]

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)


def consumer_position(committed: int | None, log_start: int) -> int:
    """The offset a group reads next: its commit, or the log start when there is none or
    retention has deleted the committed record (pure)."""
    return log_start if committed is None else max(committed, log_start)


def partition_lag(committed: int | None, log_start: int, end: int) -> int:
    """Records between the group's position and the end; deleted records never count."""
    return max(end - consumer_position(committed, log_start), 0)


async def group_lag(
    admin: AIOKafkaAdminClient,
    consumer: AIOKafkaConsumer,
    topic: str,
    group: str,
    partitions: set[int],
    *,
    with_times: bool = False,
) -> GroupLag:
    """The group's lag on each partition; `with_times` also reads the timestamp of the
    oldest unconsumed record of each partition that has lag (one small fetch each)."""
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return GroupLag(topic, group, ())
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    end = await consumer.end_offsets(tps)
    beginning = await consumer.beginning_offsets(tps)
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        lag = partition_lag(offset, beginning[tp], end[tp])
        rows.append(PartitionLag(tp.partition, offset, end[tp], lag, beginning[tp]))
    if with_times:
        rows = await _with_times(consumer, topic, rows)
    return GroupLag(topic, group, tuple(rows))


async def _with_times(
    consumer: AIOKafkaConsumer, topic: str, rows: list[PartitionLag]
) -> list[PartitionLag]:
    """The rows with the oldest unconsumed record's time of each lagging one (the fetches
    run side by side)."""
    client = _client_of(consumer)
    lagging = [row for row in rows if row.lag > 0]
    times = await asyncio.gather(
        *(record_time(client, topic, row.partition, row.position) for row in lagging)
    )
    found = {row.partition: t for row, t in zip(lagging, times, strict=True)}
    return [replace(row, oldest=found.get(row.partition)) for row in rows]


def _client_of(consumer: AIOKafkaConsumer) -> Any:
    """The consumer's connection to the brokers (its metadata already knows the topic)."""
    return consumer._client
