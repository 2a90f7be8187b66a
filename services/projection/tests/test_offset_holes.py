"""Offsets with holes: transaction markers and aborted transactions (read_committed).

The consumer folds each partition strictly in offset order and re-reads a fetch that does
not start where the last one ended; a hole that is still there on the second read is real
(here: a commit marker after every transaction, and the records of an aborted one), and the
projection must neither stall on it nor skip a record around it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from readside_projection.generator import generate

pytestmark = pytest.mark.integration


async def _publish_in_transactions(harness: Any, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=harness.brokers, transactional_id=f"holes-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        for start in range(0, len(messages), 37):
            async with producer.transaction():
                for key, value in messages[start : start + 37]:
                    await producer.send(harness.topic, key=key, value=value)
            if start % (37 * 5) == 0:  # and an aborted one: its records are never visible
                await producer.begin_transaction()
                for key, _ in messages[start : start + 10]:
                    await producer.send(harness.topic, key=key, value=b'{"garbage": true}')
                await producer.abort_transaction()
    finally:
        await producer.stop()


async def _after_last_visible_records(harness: Any) -> dict[int, int]:
    """Per partition, one past the last record a read_committed reader sees: where the
    projection's stored offsets end (the log's end offset is past the final commit marker)."""
    consumer = AIOKafkaConsumer(
        harness.topic,
        bootstrap_servers=harness.brokers,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    last: dict[int, int] = {}
    try:
        while True:
            fetched = await consumer.getmany(timeout_ms=2000)
            if not fetched:
                return last
            for tp, records in fetched.items():
                last[tp.partition] = records[-1].offset + 1
    finally:
        await consumer.stop()


async def test_records_between_transaction_markers_and_aborted_ones_fold_exactly(
    harness: Any, assert_exact: Any
) -> None:
    await harness.create_topic(partitions=2)
    messages = list(generate(300, seed=11))
    harness.projection()
    await _publish_in_transactions(harness, messages)
    visible_end = await _after_last_visible_records(harness)
    assert visible_end != await harness.end_offsets()  # the test has holes at the ends too
    async with asyncio.timeout(60):
        while await harness.stored_offsets() != visible_end:
            await asyncio.sleep(0.2)
    await assert_exact(messages)
