"""`readside-projection reset`: empty the read models and rewind the stored offsets.

One PostgreSQL transaction empties every read-model table (READ_MODEL_TABLES: order_views,
customer_summaries and the registered models') and stores the new
offsets; then Kafka's committed offsets are set to the same figures and the query caches are
flushed. It refuses while the consumer group has active members (scale the projection to 0
first): a live consumer would keep writing on top of the reset.

It works on one read-model version: READ_MODEL_SCHEMA with CONSUMER_GROUP, or when unset the
live one and its group (the live pointer); only that version's cache namespace is flushed.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import delete, insert, text

from readside_core.cache import INVALIDATION_CHANNEL, Invalidation, invalidation_encoder
from readside_core.connection_security import redis_kwargs
from readside_core.db import create_engine
from readside_core.read_model_version import (
    PUBLIC_SCHEMA,
    READ_MODEL_TABLES,
    ReadModelVersion,
    missing_tables,
    read_model_version,
)
from readside_core.schema import consumer_offsets
from readside_kafka import KafkaInspector, ResetError, ResetTarget
from readside_projection.settings import ProjectionSettings
from readside_projection.target_version import resolve

__all__ = ["ResetError", "ResetTarget", "reset"]

log = logging.getLogger(__name__)


async def reset(
    settings: ProjectionSettings, target: ResetTarget, dry_run: bool
) -> tuple[ProjectionSettings, dict[int, int]]:
    """The offsets chosen, and the settings naming the read-model version and group reset."""
    settings = await resolve(settings)
    schema = settings.read_model_schema or PUBLIC_SCHEMA
    await _check_read_model(settings.database_url, schema)
    async with KafkaInspector(settings.kafka_brokers, security=settings.kafka) as kafka:
        offsets = await kafka.plan_offsets(settings.topic, target)
        if dry_run:
            return settings, offsets
        group = await kafka.group_state(settings.consumer_group)
    if group.members:
        raise ResetError(
            f"consumer group {settings.consumer_group} has {group.members} active member(s): "
            "scale the projection to 0 (or stop it) and run the reset again"
        )
    await _reset_database(settings, schema, offsets)
    await _commit_to_kafka(settings, offsets)
    if settings.redis_url:
        await _flush_cache(settings.redis_url, read_model_version(schema))
    return settings, offsets


async def _check_read_model(database_url: str, schema: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            missing = await missing_tables(conn, schema)
    finally:
        await engine.dispose()
    if missing:
        raise ResetError(
            f"read model {schema} has no table {', '.join(missing)}: run `readside-projection "
            f"migrate` with READ_MODEL_SCHEMA={schema} first"
        )


async def _reset_database(
    settings: ProjectionSettings, schema: str, offsets: dict[int, int]
) -> None:
    engine = create_engine(settings.database_url, schema=schema, pool_size=1)
    try:
        async with engine.begin() as conn:
            emptied = ", ".join(t for t in READ_MODEL_TABLES if t != "consumer_offsets")
            await conn.execute(text(f"TRUNCATE {emptied}"))
            c = consumer_offsets.c
            await conn.execute(
                delete(consumer_offsets).where(
                    c.consumer_group == settings.consumer_group, c.topic == settings.topic
                )
            )
            await conn.execute(
                insert(consumer_offsets),
                [
                    {
                        "consumer_group": settings.consumer_group,
                        "topic": settings.topic,
                        "partition": partition,
                        "next_offset": offset,
                    }
                    for partition, offset in offsets.items()
                ],
            )
    finally:
        await engine.dispose()


async def _commit_to_kafka(settings: ProjectionSettings, offsets: dict[int, int]) -> None:
    """Kafka's committed offsets of the group, set to the figures PostgreSQL now holds."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_brokers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
        **settings.kafka.client_kwargs(),
    )
    await consumer.start()
    try:
        tps = {
            TopicPartition(settings.topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()
        }
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


async def _flush_cache(redis_url: str, version: ReadModelVersion) -> None:
    """Drop the version's cached orders, pages and generations; tell query pods to flush."""
    try:
        await unlink_cache_keys(redis_url, version)
    except (OSError, aioredis.RedisError) as exc:
        log.warning("could not flush the query cache (entries expire by TTL): %s", exc)


async def unlink_cache_keys(redis_url: str, version: ReadModelVersion) -> int:
    """Unlink every cache key of the version and publish a flush for it; how many keys went."""
    client = aioredis.from_url(redis_url, socket_timeout=5, **redis_kwargs(redis_url))
    unlinked = 0
    try:
        for pattern in version.key_patterns():
            batch: list[bytes] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    unlinked += await client.unlink(*batch)
                    batch.clear()
            if batch:
                unlinked += await client.unlink(*batch)
        message = Invalidation(orders=[], scopes=[], flush=True, schema=version.schema)
        await client.publish(INVALIDATION_CHANNEL, invalidation_encoder.encode(message))
    finally:
        await client.aclose()
    return unlinked
