"""The consumer loop: getmany -> fold -> one PostgreSQL transaction -> Kafka commit -> cache.

Exactly once in effect: the rows and the next offsets commit together in PostgreSQL, and on
every partition assignment the consumer seeks to the offsets stored there. Kafka's committed
offsets are written after each transaction only so that standard tools see the lag.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_projection import metrics, tracing
from readside_projection.batch import (
    BatchPlan,
    DeadLetter,
    DecodedBatch,
    Record,
    decode_batch,
    plan_batch,
)
from readside_projection.cache_sync import CacheSync
from readside_projection.ops import Health
from readside_projection.settings import ProjectionSettings
from readside_projection.store import (
    OffsetsFenced,
    load_state,
    read_offsets,
    store_offsets,
    write_views,
)

log = logging.getLogger(__name__)
# While PostgreSQL restarts, asyncpg can raise its own errors at connect time ("the database
# system is starting up"), unwrapped by SQLAlchemy: they are an outage too.
_DB_OUTAGE = (
    OperationalError,
    InterfaceError,
    OSError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
)


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks every newly assigned partition to the offset stored in PostgreSQL."""

    def __init__(self, loop: Projection) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._loop.generation += 1
        for tp in revoked:
            self._loop.positions.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._loop.generation += 1
        await self._loop.seek_to_stored(list(assigned))


class Projection:
    def __init__(
        self,
        settings: ProjectionSettings,
        engine: AsyncEngine,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        cache: CacheSync | None,
        health: Health,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.consumer = consumer
        self.producer = producer
        self.cache = cache
        self.health = health
        # Next offset per assigned partition as stored in PostgreSQL (None: no row yet).
        self.positions: dict[tuple[str, int], int | None] = {}
        self.generation = 0  # bumped on every rebalance: a batch in hand is then dropped
        self.stop = stop or asyncio.Event()

    def listener(self) -> ConsumerRebalanceListener:
        return _Assignment(self)

    async def seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        delay = 0.1
        while True:
            try:
                async with self.engine.connect() as conn:
                    stored = await read_offsets(
                        conn, self.settings.consumer_group, self.settings.topic
                    )
                break
            except (*_DB_OUTAGE, DBAPIError) as exc:
                self.health.database = f"cannot read stored offsets: {exc}"
                log.warning("reading stored offsets failed, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
        self.health.database = None
        for tp in assigned:
            offset = stored.get(tp.partition) if tp.topic == self.settings.topic else None
            self.positions[(tp.topic, tp.partition)] = offset
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
                metrics.STORED_OFFSET.labels(tp.topic, str(tp.partition)).set(offset)
        log.info("assigned %s, resuming from PostgreSQL offsets", _describe(assigned, stored))

    async def run(self) -> None:
        """Consume until `stop` is set; the batch in hand is finished and committed first."""
        while not self.stop.is_set():
            try:
                fetched = await self.consumer.getmany(
                    timeout_ms=self.settings.batch_timeout_ms,
                    max_records=self.settings.batch_max_records,
                )
            except KafkaError as exc:
                self.health.kafka = f"fetch failed: {exc}"
                log.warning("fetch from Kafka failed: %s", exc)
                await asyncio.sleep(1)
                continue
            unseeked = [
                tp
                for tp in fetched
                if (tp.topic, tp.partition) not in self.positions
                and tp in self.consumer.assignment()
            ]
            if unseeked:
                # Records of a partition this consumer owns but has not positioned from
                # PostgreSQL yet: never drop them silently, seek and read them again.
                await self.seek_to_stored(unseeked)
                fetched = {tp: rs for tp, rs in fetched.items() if tp not in unseeked}
            records = self._fresh(fetched)
            if records:
                await self.process(records)
            self._record_lag()

    def _fresh(self, fetched: dict[TopicPartition, list[object]]) -> list[Record]:
        """Records of partitions still ours, past what PostgreSQL already holds."""
        records: list[Record] = []
        for tp, messages in fetched.items():
            key = (tp.topic, tp.partition)
            if key not in self.positions:
                continue
            floor = self.positions[key] or 0
            records.extend(
                Record(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()))  # type: ignore[attr-defined]
                for m in messages
                if m.offset >= floor  # type: ignore[attr-defined]
            )
        return records

    async def process(self, records: list[Record]) -> None:
        started = time.perf_counter()
        decoded = decode_batch(records)
        generation = self.generation
        delay = 0.1
        with tracing.batch_span(records) as span:
            while True:
                if generation != self.generation:
                    log.info("rebalance while a batch was in hand: dropped, partitions re-seeked")
                    return
                try:
                    plan = await self._commit(decoded)
                    break
                except OffsetsFenced as exc:
                    metrics.RETRIES.labels("fenced").inc()
                    log.warning("%s; re-seeking to stored offsets", exc)
                    await self.seek_to_stored(list(self.consumer.assignment()))
                    return
                except IntegrityError as exc:
                    # Another member stored the same order number a moment ago: retry, the
                    # conflict is then seen before the write and dead-lettered.
                    metrics.RETRIES.labels("conflict").inc()
                    log.warning("write conflict, retrying the batch: %s", exc.orig)
                except (*_DB_OUTAGE, DBAPIError) as exc:
                    metrics.RETRIES.labels("database").inc()
                    self.health.database = str(exc).splitlines()[0]
                    log.warning("PostgreSQL unavailable, retrying in %.1fs: %s", delay, exc)
                except KafkaError as exc:
                    metrics.RETRIES.labels("dead_letter").inc()
                    self.health.kafka = f"dead-letter produce failed: {exc}"
                    log.warning("dead-letter produce failed, retrying in %.1fs: %s", delay, exc)
                if self.stop.is_set():
                    log.warning("stopping with an uncommitted batch: it is read again on restart")
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
            span.set_attribute("readside.events", len(decoded.events))
        self.health.database = None
        for (topic, partition), offset in decoded.next_offsets.items():
            self.positions[(topic, partition)] = offset
            metrics.STORED_OFFSET.labels(topic, str(partition)).set(offset)
        for outcome, count in plan.outcomes.items():
            metrics.EVENTS.labels(outcome).inc(count)
        for event in plan.missing:
            log.warning(
                "%s %s for order %s, which does not exist: counted, not applied",
                event.event_type,
                event.event_id,
                event.order_id,
            )
        metrics.BATCH_SIZE.observe(len(records))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        await self._commit_kafka(decoded)
        if self.cache is not None:
            await self.cache.publish(plan.changed, plan.scopes)

    async def _commit(self, decoded: DecodedBatch) -> BatchPlan:
        expected = {tp: self.positions.get(tp) for tp in decoded.next_offsets}
        async with self.engine.begin() as conn:
            current, owners = await load_state(conn, decoded.order_ids, decoded.new_order_numbers)
            plan = plan_batch(decoded, current, owners)
            # Dead letters go out before the commit: a crash in between sends them again
            # (at least once in the DLQ), never loses them.
            await self._dead_letter(plan.dead_letters)
            await write_views(conn, plan.changed, plan.created)
            await store_offsets(conn, self.settings.consumer_group, decoded.next_offsets, expected)
        return plan

    async def _dead_letter(self, dead_letters: list[DeadLetter]) -> None:
        if not dead_letters:
            return
        sends = [
            await self.producer.send(
                self.settings.dlq_topic,
                key=d.record.key,
                value=d.record.value,
                headers=[
                    *d.record.headers,
                    ("dlq.error", d.error.encode()),
                    ("dlq.original.topic", d.record.topic.encode()),
                    ("dlq.original.partition", str(d.record.partition).encode()),
                    ("dlq.original.offset", str(d.record.offset).encode()),
                ],
            )
            for d in dead_letters
        ]
        await asyncio.gather(*sends)
        for d in dead_letters:
            log.warning(
                "dead-lettered %s[%d]@%d: %s",
                d.record.topic,
                d.record.partition,
                d.record.offset,
                d.error,
            )

    async def _commit_kafka(self, decoded: DecodedBatch) -> None:
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset, "")
            for (topic, partition), offset in decoded.next_offsets.items()
        }
        try:
            await self.consumer.commit(offsets)
            self.health.kafka = None
        except KafkaError as exc:
            # PostgreSQL holds the truth; Kafka's copy catches up at the next commit.
            log.info("Kafka offset commit skipped (%s); PostgreSQL has the offsets", exc)

    def _record_lag(self) -> None:
        # The assignment, not self.positions: during a rebalance the two briefly differ.
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            position = self.positions.get((tp.topic, tp.partition))
            if end is not None and position is not None:
                metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(end - position, 0))


def _describe(assigned: list[TopicPartition], stored: dict[int, int]) -> str:
    parts = [
        f"{tp.topic}[{tp.partition}]@{stored.get(tp.partition, 'earliest')}" for tp in assigned
    ]
    return ", ".join(parts) or "nothing"
