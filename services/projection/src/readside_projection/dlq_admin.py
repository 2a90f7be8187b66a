"""`readside-projection dlq list|redrive` against Kafka, and the DLQ depth the projection exports.

The DLQ is read whole with a group-less consumer (dead-letter topics are small; reading all of
it lets `list` show what was redriven already). Redrive progress lives in the committed offsets
of the group `<topic>.dlq.redrive` (see dlq.py), written after every selected dead letter was
acknowledged by the brokers: a redrive that dies half-way sends its selection again next time,
which changes nothing in the read model (the event ids were applied already).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from readside_kafka import KafkaLookupError, topic_partitions
from readside_projection import metrics
from readside_projection.dlq import (
    DeadLetterEntry,
    PartitionProgress,
    Selection,
    depth,
    entry_from_record,
    entry_to_json,
)
from readside_projection.settings import ProjectionSettings

log = logging.getLogger(__name__)
READ_SECONDS = 120.0  # the most a whole DLQ read may take before the command gives up


def progress_group(settings: ProjectionSettings) -> str:
    return f"{settings.dlq_topic}.redrive"


@dataclass(slots=True)
class DlqState:
    topic: str
    log_start: dict[int, int] = field(default_factory=dict)
    log_end: dict[int, int] = field(default_factory=dict)
    progress: dict[int, PartitionProgress] = field(default_factory=dict)
    entries: list[DeadLetterEntry] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return depth(self.log_start, self.log_end, self.progress)


@asynccontextmanager
async def _clients(
    settings: ProjectionSettings,
) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
    secured = settings.kafka.client_kwargs()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_brokers, **secured)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_brokers, enable_auto_commit=False, **secured
    )
    await admin.start()
    try:
        await consumer.start()
        try:
            yield admin, consumer
        finally:
            await consumer.stop()
    finally:
        await admin.close()


async def _offsets(
    settings: ProjectionSettings, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer
) -> DlqState:
    state = DlqState(settings.dlq_topic)
    partitions = await topic_partitions(admin, state.topic)
    tps = [TopicPartition(state.topic, p) for p in sorted(partitions)]
    if not tps:
        return state
    state.log_start = {tp.partition: o for tp, o in (await consumer.beginning_offsets(tps)).items()}
    state.log_end = {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
    committed = await admin.list_consumer_group_offsets(progress_group(settings), partitions=tps)
    for tp in tps:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        state.progress[tp.partition] = PartitionProgress.parse(
            offset, meta.metadata if meta is not None else None
        )
    return state


async def _read_entries(
    settings: ProjectionSettings, consumer: AIOKafkaConsumer, state: DlqState
) -> None:
    """Every record from the log start to the end seen at the start, in offset order."""
    wanted = {
        TopicPartition(state.topic, p): end
        for p, end in state.log_end.items()
        if end > state.log_start.get(p, 0)
    }
    if not wanted:
        return
    consumer.assign(list(wanted))
    for tp in wanted:
        consumer.seek(tp, state.log_start.get(tp.partition, 0))
    records: list[Any] = []
    try:
        async with asyncio.timeout(READ_SECONDS):
            while await _behind(consumer, wanted):
                fetched = await consumer.getmany(timeout_ms=500)
                records += [r for tp, rs in fetched.items() for r in rs if r.offset < wanted[tp]]
    except TimeoutError:
        raise KafkaLookupError(f"reading {state.topic} took over {READ_SECONDS:.0f}s") from None
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        entry = entry_from_record(
            r.partition, r.offset, r.key, r.value, r.headers or (), r.timestamp, settings.topic
        )
        done = state.progress.get(r.partition, PartitionProgress()).is_redriven(r.offset)
        state.entries.append(_with_redriven(entry, done))


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _with_redriven(entry: DeadLetterEntry, redriven: bool) -> DeadLetterEntry:
    return replace(entry, redriven=redriven)


async def read_dlq(settings: ProjectionSettings, entries: bool = True) -> DlqState:
    async with _clients(settings) as (admin, consumer):
        state = await _offsets(settings, admin, consumer)
        if entries:
            await _read_entries(settings, consumer, state)
    return state


async def list_dead_letters(settings: ProjectionSettings, selection: Selection) -> dict[str, Any]:
    state = await read_dlq(settings)
    shown = [e for e in state.entries if selection.matches(e)]
    return {
        "dlq": state.topic,
        "progressGroup": progress_group(settings),
        "depth": state.depth,
        "total": len(state.entries),
        "shown": len(shown),
        "deadLetters": [entry_to_json(e) for e in shown],
    }


def _select(
    entries: list[DeadLetterEntry], selection: Selection
) -> tuple[list[DeadLetterEntry], list[DeadLetterEntry], int]:
    """(to send, duplicates of one already chosen, how many matched but were redriven)."""
    chosen: list[DeadLetterEntry] = []
    duplicates: list[DeadLetterEntry] = []
    seen: set[tuple[str, int | None, int | None]] = set()
    already = 0
    for entry in entries:
        if not selection.matches(entry):
            continue
        if entry.redriven:
            already += 1
            continue
        origin = (entry.original_topic, entry.original_partition, entry.original_offset)
        if entry.original_offset is not None and origin in seen:
            duplicates.append(entry)  # dead-lettered twice (e.g. by a shadow projection)
            continue
        seen.add(origin)
        chosen.append(entry)
    return chosen, duplicates, already


async def redrive(
    settings: ProjectionSettings, selection: Selection, dry_run: bool, send: bool = True
) -> dict[str, Any]:
    """Send the selected dead letters back to their topic, then record them as redriven
    (`send=False`: `dlq discard`, record them without sending: events that were really bad)."""
    state = await read_dlq(settings)
    chosen, duplicates, already = _select(state.entries, selection)
    report: dict[str, Any] = {
        "dryRun": dry_run,
        "dlq": state.topic,
        "progressGroup": progress_group(settings),
        "selected": len(chosen),
        "duplicates": len(duplicates),
        "alreadyRedriven": already,
        "sent": 0,
        "deadLetters": [entry_to_json(e) for e in chosen],
    }
    if dry_run or not (chosen or duplicates):
        return report
    progress = _progress_after(state, [*chosen, *duplicates])  # refuses before sending
    if send:
        await _send(settings, state.topic, chosen)
        report["sent"] = len(chosen)
    else:
        report["discarded"] = len(chosen)
    await _commit_progress(settings, progress)
    log.info(
        "%s %d dead letters of %s", "redrove" if send else "discarded", len(chosen), state.topic
    )
    return report


async def _send(
    settings: ProjectionSettings, dlq_topic: str, entries: list[DeadLetterEntry]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_brokers,
        acks="all",
        enable_idempotence=True,
        **settings.kafka.client_kwargs(),
    )
    await producer.start()
    try:
        sends = [
            await producer.send(
                entry.original_topic or settings.topic,
                key=entry.key,
                value=entry.value,
                headers=entry.redrive_headers(dlq_topic),
            )
            for entry in entries  # DLQ offset order: one order's events keep their order
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def _progress_after(
    state: DlqState, done: list[DeadLetterEntry]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The progress to commit once `done` are sent (DlqRefused if it cannot be recorded)."""
    by_partition: dict[int, list[int]] = {}
    for entry in done:
        by_partition.setdefault(entry.dlq_partition, []).append(entry.dlq_offset)
    offsets = {}
    for partition, redriven in by_partition.items():
        progress = state.progress.setdefault(partition, PartitionProgress())
        progress.mark(redriven, state.log_start.get(partition, 0))
        offsets[TopicPartition(state.topic, partition)] = OffsetAndMetadata(
            progress.below, progress.metadata()
        )
    return offsets


async def _commit_progress(
    settings: ProjectionSettings, offsets: dict[TopicPartition, OffsetAndMetadata]
) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_brokers,
        group_id=progress_group(settings),
        enable_auto_commit=False,
        **settings.kafka.client_kwargs(),
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def watch_depth(settings: ProjectionSettings) -> None:
    """Keep `readside_projection_dlq_depth` current (the projection runs this beside its loop)."""
    interval = settings.dlq_depth_seconds
    while True:
        try:
            async with asyncio.timeout(max(interval, 10.0)):
                state = await read_dlq(settings, entries=False)
            metrics.DLQ_DEPTH.labels(state.topic).set(state.depth)
        except Exception as exc:  # a metric: say why it is stale, never stop the projection
            log.warning("could not measure the depth of %s: %r", settings.dlq_topic, exc)
        await asyncio.sleep(interval)
