"""The consumer loop: getmany -> fold on the views in memory -> hand the plan to the writer.

Exactly once in effect: the rows and the next offsets commit together in PostgreSQL (the
writer, store.py), and on every partition assignment the consumer seeks to the offsets
stored there. The loop folds batch N+1 while the writer commits batch N, on its own copy of
the views it owns (view_state.py), loaded from PostgreSQL only for orders it has not seen (and
not for those the batch creates: see `_fold`).

Records are folded strictly in offset order per partition: a fetch that does not start where
the last one ended (a buffer fetched before a seek, or a hole left by transaction markers or
compaction) is read again once from there; a hole still there is real, and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from readside_core.database_errors import DATABASE_ERRORS, describe
from readside_core.db import pooled
from readside_projection import metrics, tracing
from readside_projection.batch import BatchPlan, DecodedBatch, Record, decode_batch, plan_batch
from readside_projection.cache_sync import CacheSync
from readside_projection.dead_letters import DeadLetterSender
from readside_projection.ops import Health
from readside_projection.settings import ProjectionSettings
from readside_projection.stalls import forget_partitions, stop_partitions
from readside_projection.store import load_views, number_owners, read_offsets
from readside_projection.view_state import ViewState
from readside_projection.writer import BatchWriter, until_drained

log = logging.getLogger(__name__)
PartitionKey = tuple[str, int]


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: Projection) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._loop.revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._loop.generation += 1
        await self._loop.seek_to_stored(list(assigned))


class Projection:
    def __init__(
        self,
        settings: ProjectionSettings,
        pool: asyncpg.Pool,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        cache: CacheSync | None,
        health: Health,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.consumer = consumer
        self.producer = producer
        self.dead_letters = DeadLetterSender(producer, settings, health)
        self.health = health
        self.state = ViewState(settings.view_cache_orders)
        self.writer = BatchWriter(
            pool,
            settings.consumer_group,
            self.state,
            cache,
            health,
            max_pending_records=2 * settings.batch_max_records,
            retry_max_seconds=settings.retry_max_seconds,
        )
        self.writer.on_dropped = self._seek_all_to_stored
        self.writer.kafka.health = health
        # Next offset to fold per assigned partition (None: nothing stored, from the start).
        self.positions: dict[PartitionKey, int | None] = {}
        self._reread: set[PartitionKey] = set()  # re-read once after a hole
        self._careful_until: dict[PartitionKey, int] = {}  # see _careful
        self.generation = 0  # bumped on every rebalance and re-seek: a batch in hand is dropped
        self.stop = stop or asyncio.Event()

    def listener(self) -> ConsumerRebalanceListener:
        return _Assignment(self)

    # -- assignment -----------------------------------------------------------------------

    async def revoked(self, revoked: list[TopicPartition]) -> None:
        """Commit what was folded for these partitions, then forget them and the views."""
        self.generation += 1
        await self.writer.drain()
        keys = {(tp.topic, tp.partition) for tp in revoked}
        for key in keys:
            self.positions.pop(key, None)
            self._careful_until.pop(key, None)
            self.writer.stored.pop(key, None)
        forget_partitions(self.health, keys)
        await self.writer.kafka.flush(self.consumer)
        self.state.clear()

    async def _seek_all_to_stored(self) -> None:
        """After the writer dropped what was folded: read it all again from PostgreSQL's
        offsets (a partition taken away meanwhile is sought by the next assignment)."""
        self.generation += 1
        folded = dict(self.positions)
        try:
            await self.seek_to_stored(list(self.consumer.assignment()))
        except IllegalStateError as exc:
            log.info("re-seek skipped, a rebalance is under way: %s", exc)
        self._careful_until = {
            key: end
            for key, end in folded.items()
            if end is not None and (self.positions.get(key) or 0) < end
        }
        # A batch folded during the seek continued the old positions: it is dropped.
        self.generation += 1

    async def seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        """Seek to PostgreSQL's offsets, and offer them to Kafka: a failed commit may have left
        its copy behind, and with no record after it nothing else would bring it up."""
        stored = await self._stored_offsets()
        for tp in assigned:
            key = (tp.topic, tp.partition)
            offset = stored.get(tp.partition) if tp.topic == self.settings.topic else None
            self.positions[key] = offset
            self.writer.stored[key] = offset
            self._reread.discard(key)
            forget_partitions(self.health, {key}, self.consumer)
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
                metrics.STORED_OFFSET.labels(tp.topic, str(tp.partition)).set(offset)
        self.writer.kafka.offer({k: o for k, o in self.writer.stored.items() if o is not None})
        log.info("assigned %s, resuming from PostgreSQL offsets", _describe(assigned, stored))

    async def _stored_offsets(self) -> dict[int, int]:
        delay = 0.1
        while True:
            try:
                async with pooled(self.pool) as conn:
                    stored = await read_offsets(
                        conn, self.settings.consumer_group, self.settings.topic
                    )
                self.health.database = None
                return stored
            except DATABASE_ERRORS as exc:
                self.health.database = f"cannot read stored offsets: {describe(exc)}"
                log.warning("%s; retrying in %.1fs", self.health.database, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until `stop` is set; what was folded is committed before returning."""
        writer = asyncio.create_task(self.writer.run(), name="writer")
        committer = asyncio.create_task(self.writer.kafka.run(self.consumer), name="kafka-commit")
        try:
            while not self.stop.is_set():
                if writer.done():
                    writer.result()  # the writer failed: raise its error here
                await self._step()
            self.writer.stopping = True
            await until_drained(self.writer, writer)
            await self.writer.kafka.flush(self.consumer)  # after the commit under way, if any
            committer.cancel()
        finally:
            writer.cancel()
            committer.cancel()

    async def _step(self) -> None:
        try:
            fetched = await self.consumer.getmany(
                timeout_ms=self.settings.batch_timeout_ms,
                max_records=self.settings.batch_max_records,
            )
        except KafkaError as exc:
            self.health.kafka = f"fetch failed: {exc}"
            log.warning("fetch from Kafka failed: %s", exc)
            await asyncio.sleep(1)
            return
        unseeked = [
            tp
            for tp in fetched
            if (tp.topic, tp.partition) not in self.positions and tp in self.consumer.assignment()
        ]
        if unseeked:
            # Records of a partition this consumer owns but has not positioned from
            # PostgreSQL yet: never drop them silently, seek and read them again.
            await self.seek_to_stored(unseeked)
            fetched = {tp: rs for tp, rs in fetched.items() if tp not in unseeked}
        records = self._in_order(fetched)
        if records:
            await self.fold_and_submit(records)
        self._record_lag()

    def _in_order(
        self, fetched: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]
    ) -> list[Record]:
        """Records that continue each partition exactly where the last batch ended."""
        records: list[Record] = []
        for tp, messages in fetched.items():
            key = (tp.topic, tp.partition)
            if key not in self.positions:
                continue
            expected = self.positions[key]
            fresh = [m for m in messages if expected is None or m.offset >= expected]
            if not fresh:
                continue
            first = fresh[0].offset
            if expected is not None and first > expected:
                if key not in self._reread:
                    self._reread.add(key)
                    self.consumer.seek(tp, expected)
                    continue
                metrics.OFFSET_GAPS.labels(tp.topic, str(tp.partition)).inc()
                log.info("%s[%d]: no records in [%d, %d)", tp.topic, tp.partition, expected, first)
            self._reread.discard(key)
            records.extend(
                Record(
                    m.topic,
                    m.partition,
                    m.offset,
                    m.key,
                    m.value,
                    tuple(m.headers or ()),
                    m.timestamp or 0,
                )
                for m in fresh
            )
            self.positions[key] = fresh[-1].offset + 1
        return records

    async def fold_and_submit(self, records: list[Record]) -> None:
        generation = self.generation
        decoded = decode_batch(records)
        stop_partitions(self.consumer, self.positions, self.health, decoded.stalled)
        with tracing.batch_span(records) as span:
            plan = await self._fold(decoded, generation)
            if plan is None:
                return
            span.set_attribute("readside.events", len(decoded.events))
        metrics.observe_freshness("folded", plan.oldest_ms)
        if not await self.dead_letters.send(
            plan.dead_letters, lambda: self.stop.is_set() or generation != self.generation
        ):
            return
        if generation != self.generation:
            log.info("rebalance while a batch was in hand: dropped, partitions re-seeked")
            return
        _count(plan)
        self.state.put(plan.changed)
        await self.writer.submit(plan)

    async def _fold(self, decoded: DecodedBatch, generation: int) -> BatchPlan | None:
        """Fold on the views in memory, loading the others (None: a rebalance came first)."""
        current = self.state.known(decoded.order_ids)
        absent = decoded.order_ids - current.keys()
        # An order whose batch starts with its OrderCreated is taken to be new, not looked up:
        # a wrong guess fails the insert on a unique key (WriteConflict) and the records are
        # read again, then with lookups (`_careful`).
        unknown = absent if self._careful(decoded) else absent - decoded.created_first
        owners = {n: o for n in decoded.new_order_numbers(absent) if (o := self.state.owner_of(n))}
        numbers = decoded.new_order_numbers(unknown) - owners.keys()
        if unknown or numbers:
            while True:
                try:
                    async with pooled(self.pool) as conn:
                        loaded = await load_views(conn, unknown)
                        owners.update(await number_owners(conn, numbers))
                    break
                except DATABASE_ERRORS as exc:
                    self.health.database = describe(exc)
                    log.warning("loading views failed, retrying: %s", self.health.database)
                    if self.stop.is_set() or generation != self.generation:
                        return None
                    await asyncio.sleep(min(self.settings.retry_max_seconds, 1.0))
            if generation != self.generation:
                return None
            self.state.put(loaded)
            current.update(loaded)
        return plan_batch(decoded, current, owners)

    def _careful(self, decoded: DecodedBatch) -> bool:
        """Whether this batch re-reads records a dropped plan held (every order looked up);
        a partition is past that once a batch reaches where the dropped plan had got."""
        if not self._careful_until:
            return False
        for key, end in decoded.next_offsets.items():
            if end >= self._careful_until.get(key, end + 1):
                del self._careful_until[key]
        return True

    def _record_lag(self) -> None:
        # The assignment, not self.positions: during a rebalance the two briefly differ.
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            position = self.positions.get((tp.topic, tp.partition))
            if end is not None and position is not None:
                metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(end - position, 0))


def _count(plan: BatchPlan) -> None:
    for outcome, count in plan.outcomes.items():
        metrics.EVENTS.labels(outcome).inc(count)
    for e in plan.missing:
        missing = f"{e.event_type} {e.event_id} for order {e.order_id}, which does not exist"
        log.warning("%s: counted, not applied", missing)


def _describe(assigned: list[TopicPartition], stored: dict[int, int]) -> str:
    parts = [
        f"{tp.topic}[{tp.partition}]@{stored.get(tp.partition, 'earliest')}" for tp in assigned
    ]
    return ", ".join(parts) or "nothing"
