"""The writer: commits folded plans to PostgreSQL in the background, one transaction at a time.

The consumer folds batch N+1 while the writer commits batch N. Plans that queue up while a
transaction runs are merged into the next one (group commit): under light traffic every
batch commits alone at once, under heavy traffic transactions grow, with no setting to tune.
The queue is bounded (`max_pending_records`): past it the consumer waits.

After each commit, in this order: the query cache is brought up to date (write-through and
the invalidation message), then Kafka's committed offsets are updated by a background task
(they are only there for lag tools: PostgreSQL holds the truth).

PostgreSQL away: the transaction is retried with capped backoff until it succeeds. Fenced
offsets or a write conflict: every plan not yet committed is dropped, `on_dropped` re-seeks
the consumer to the stored offsets, and the records are read and folded again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from opentelemetry import trace

from readside_core.database_errors import DATABASE_ERRORS, describe, is_rejection
from readside_core.db import pooled
from readside_projection import metrics
from readside_projection.batch import BatchPlan
from readside_projection.cache_sync import CacheSync
from readside_projection.ops import Health
from readside_projection.store import OffsetsFenced, WriteConflict, write_plan
from readside_projection.view_state import ViewState

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("readside.projection")
TopicPartitionKey = tuple[str, int]


class BatchWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        group: str,
        state: ViewState,
        cache: CacheSync | None,
        health: Health,
        *,
        max_pending_records: int,
        retry_max_seconds: float,
    ) -> None:
        self._pool = pool
        self._group = group
        self._state = state
        self._cache = cache
        self._health = health
        self._max_pending = max_pending_records
        self._retry_max = retry_max_seconds
        self._queue: list[BatchPlan] = []
        self._in_flight: BatchPlan | None = None
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.stored: dict[TopicPartitionKey, int | None] = {}  # what PostgreSQL holds
        self.on_dropped: Callable[[], Awaitable[None]] | None = None
        self.stopping = False
        self.kafka = KafkaOffsetCommitter()

    # -- the consumer's side -------------------------------------------------------------

    async def submit(self, plan: BatchPlan) -> None:
        """Queue a plan; waits while the queue holds `max_pending_records` or more."""
        self._queue.append(plan)
        self._idle.clear()
        self._work.set()
        while self._queued_records() >= self._max_pending and self._queue:
            self._room.clear()
            await self._room.wait()

    async def drain(self) -> None:
        """Until every queued plan is committed (or dropped)."""
        await self._idle.wait()

    def pending_orders(self) -> set[UUID]:
        ids: set[UUID] = set()
        for plan in (*self._queue, *((self._in_flight,) if self._in_flight else ())):
            ids.update(plan.changed)
        return ids

    def _queued_records(self) -> int:
        return sum(plan.records for plan in self._queue)

    # -- the writer's loop ----------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._queue:
                plan = self._take()
                self._in_flight = plan
                try:
                    committed = await self._commit_until_done(plan)
                finally:
                    self._in_flight = None
                if committed:
                    await self._after_commit(plan)
                self._state.trim(self.pending_orders())
            self._idle.set()

    def _take(self) -> BatchPlan:
        """Every queued plan, merged into one (they were folded in order, each on the last)."""
        plan, rest = self._queue[0], self._queue[1:]
        self._queue = []
        for later in rest:
            plan.absorb(later)
        self._room.set()
        return plan

    async def _commit_until_done(self, plan: BatchPlan) -> bool:
        delay = 0.1
        while True:
            try:
                await self._commit(plan)
                self._health.database = None
                return True
            except (OffsetsFenced, WriteConflict) as exc:
                reason = "fenced" if isinstance(exc, OffsetsFenced) else "conflict"
                metrics.RETRIES.labels(reason).inc()
                log.warning("%s; dropping what was folded and reading it again", exc)
                await self._drop()
                return False
            except DATABASE_ERRORS as exc:
                rejected = is_rejection(exc)
                metrics.RETRIES.labels("rejected" if rejected else "database").inc()
                why = describe(exc)
                if self.stopping:
                    log.warning("stopping with an uncommitted batch: it is read again on restart")
                    self._queue.clear()
                    return False
                if rejected and why != self._health.database:
                    log.error("%s; the batch is retried, never skipped, until that is fixed", why)
                elif not rejected:
                    log.warning("PostgreSQL unavailable, retrying in %.1fs: %s", delay, why)
                self._health.database = why
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _commit(self, plan: BatchPlan) -> None:
        expected = {tp: self.stored.get(tp) for tp in plan.next_offsets}
        started = time.perf_counter()
        with _tracer.start_as_current_span("projection.commit") as span:
            span.set_attribute("messaging.batch.message_count", plan.records)
            async with pooled(self._pool) as conn:
                await write_plan(conn, self._group, plan, expected)
        metrics.observe_freshness("committed", plan.oldest_ms)
        metrics.BATCH_SIZE.observe(plan.records)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        self.stored.update(plan.next_offsets)
        for (topic, partition), offset in plan.next_offsets.items():
            metrics.STORED_OFFSET.labels(topic, str(partition)).set(offset)

    async def _after_commit(self, plan: BatchPlan) -> None:
        if self._cache is not None:
            with _tracer.start_as_current_span("cache.publish"):
                await self._cache.publish(plan.changed, plan.scopes, plan.next_offsets)
            metrics.observe_freshness("published", plan.oldest_ms)
        self.kafka.offer(plan.next_offsets)

    async def _drop(self) -> None:
        self._discard()
        if self.on_dropped is not None:
            await self.on_dropped()
            # Plans the consumer queued while it re-seeked continued the old positions.
            self._discard()

    def _discard(self) -> None:
        self._queue.clear()
        self._room.set()
        self._state.clear()


class KafkaOffsetCommitter:
    """Commits the newest stored offsets to Kafka in the background, one request at a time
    (a flush at a rebalance or shutdown waits for the one under way, then sends the rest)."""

    def __init__(self) -> None:
        self._offsets: dict[TopicPartitionKey, int] = {}
        self._wake = asyncio.Event()
        self._one_at_a_time = asyncio.Lock()
        self.health: Health | None = None

    def offer(self, offsets: dict[TopicPartitionKey, int]) -> None:
        self._offsets.update(offsets)
        self._wake.set()

    def forget(self, partitions: set[TopicPartitionKey]) -> None:
        for tp in partitions:
            self._offsets.pop(tp, None)

    async def run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            await self._wake.wait()
            await self.flush(consumer)

    async def flush(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the offsets offered so far (the loop's step; at shutdown, the last one)."""
        async with self._one_at_a_time:
            await self._commit(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        self._wake.clear()
        offsets, self._offsets = self._offsets, {}
        if not offsets:
            return
        commit = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset, "")
            for (topic, partition), offset in offsets.items()
        }
        try:
            await consumer.commit(commit)
            if self.health is not None:
                self.health.kafka = None
        except KafkaError as exc:
            # PostgreSQL holds the truth; Kafka's copy catches up at the next commit.
            log.info("Kafka offset commit skipped (%s); PostgreSQL has the offsets", exc)


async def until_drained(writer: BatchWriter, task: asyncio.Task[None]) -> None:
    """Wait until the writer has committed everything queued, unless its task ends first
    (then raise its error, if any)."""
    drained = asyncio.ensure_future(writer.drain())
    await asyncio.wait({drained, task}, return_when=asyncio.FIRST_COMPLETED)
    if not drained.done():
        drained.cancel()
        task.result()
