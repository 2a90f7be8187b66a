"""Partitions stopped at an event version newer than this projection knows.

Why stop rather than dead-letter (docs/event-versions.md): the events that follow in the
partition include the same order's later events, which depend on the one refused (a
dead-lettered OrderCreated would turn its order's updates into "missing order" counts, lost
until someone redrives all of them in order). Stopping keeps every order's events in order
and loses nothing: the offset stored in PostgreSQL stays at the refused record, the partition
is paused, /readyz reports it, and a projection that knows the version (after the upgrade, or
the next assignment) resumes exactly there. Other partitions keep flowing.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from readside_projection import metrics
from readside_projection.batch import Stall
from readside_projection.ops import Health

log = logging.getLogger(__name__)
PartitionKey = tuple[str, int]


def stop_partitions(
    consumer: AIOKafkaConsumer,
    positions: dict[PartitionKey, int | None],
    health: Health,
    stalled: dict[PartitionKey, Stall],
) -> None:
    """Pause each stalled partition at its refused record and say so in readiness and metrics."""
    for (topic, partition), stall in stalled.items():
        tp = TopicPartition(topic, partition)
        if tp not in consumer.assignment():
            continue  # revoked meanwhile: the batch in hand is dropped, the next owner sees it
        consumer.pause(tp)
        positions[(topic, partition)] = stall.offset
        health.stalled[(topic, partition)] = f"stopped at offset {stall.offset}: {stall.reason}"
        metrics.STALLED.labels(topic, str(partition)).set(1)
        log.error("%s[%d] stopped at offset %d: %s", topic, partition, stall.offset, stall.reason)


def forget_partitions(
    health: Health, keys: set[PartitionKey], consumer: AIOKafkaConsumer | None = None
) -> None:
    """Partitions revoked or sought again: whoever reads them next finds out again (or knows
    the version). A partition sought again is resumed: what a dropped batch held before the
    refused record must be read again."""
    for topic, partition in keys:
        if consumer is not None and TopicPartition(topic, partition) in consumer.assignment():
            consumer.resume(TopicPartition(topic, partition))
        if health.stalled.pop((topic, partition), None) is not None:
            metrics.STALLED.labels(topic, str(partition)).set(0)
