"""Composition root of the projection process: build everything, run, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from readside_core.db import create_pool
from readside_core.read_model_version import PUBLIC_SCHEMA, read_model_version
from readside_core.telemetry import setup_tracing
from readside_projection import metrics
from readside_projection.cache_sync import CacheSync
from readside_projection.consumer import Projection
from readside_projection.dlq_admin import watch_depth
from readside_projection.ops import Health, serve_ops
from readside_projection.settings import ProjectionSettings
from readside_projection.target_version import resolve_with_retry

log = logging.getLogger(__name__)
HEALTH_CHECK_SECONDS = 5.0


async def _start_with_retry(
    name: str,
    client: AIOKafkaConsumer | AIOKafkaProducer,
    health: Health,
    stop: asyncio.Event,
    cap: float,
) -> bool:
    delay = 0.5
    while not stop.is_set():
        try:
            await client.start()
            return True
        except KafkaError as exc:
            health.kafka = f"{name} cannot connect: {exc}"
            log.warning("Kafka %s cannot start, retrying in %.1fs: %s", name, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)
    return False


async def _check_health(projection: Projection) -> None:
    """Keep readiness current even while no events flow."""
    while True:
        try:
            async with asyncio.timeout(HEALTH_CHECK_SECONDS), projection.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            projection.health.database = None
        except Exception as exc:  # any failure to answer means not ready; say why
            projection.health.database = str(exc).splitlines()[0]
        try:
            await asyncio.wait_for(projection.consumer.topics(), timeout=HEALTH_CHECK_SECONDS)
            projection.health.kafka = None
        except (KafkaError, TimeoutError) as exc:
            projection.health.kafka = f"metadata request failed: {exc!r}"
        await asyncio.sleep(HEALTH_CHECK_SECONDS)


def tune_garbage_collection() -> None:
    """The views kept in memory (view_state.py) are a large, long-lived heap of containers;
    with CPython's default thresholds the cyclic collector walks it over and over. Measured
    (bench_projection, 100,000 events): 75 -> 50 us of CPU per event, 6,850 -> 9,940 events/s.
    Reference counting frees the views as before; only cycle detection runs less often, and
    what start-up built is frozen out of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def run(settings: ProjectionSettings) -> None:
    """Serve the ops endpoint, find the read model to write, then project until signalled."""
    tune_garbage_collection()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = Health()
    ops = (
        await serve_ops(settings.ops_port, health, settings.ops_host) if settings.ops_port else None
    )
    try:
        resolved = await resolve_with_retry(settings, health, stop)
        if resolved is not None:
            await _project(resolved, health, stop)
    finally:
        if ops is not None:
            ops.close()


def _kafka_clients(settings: ProjectionSettings) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_brokers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(settings.session_timeout_ms // 4, 500),
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
        isolation_level="read_committed",
        # Notice a topic created after start-up (or new partitions) within seconds, not 5 min.
        metadata_max_age_ms=10_000,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_brokers, acks="all", enable_idempotence=True
    )
    return consumer, producer


async def _project(settings: ProjectionSettings, health: Health, stop: asyncio.Event) -> None:
    schema = settings.read_model_schema or PUBLIC_SCHEMA
    metrics.READ_MODEL.labels(schema, settings.consumer_group).set(1)
    pool = await create_pool(
        settings.database_url,
        schema=schema,
        size=4,  # the writer, the loads of the consumer, seeks, the health check
        server_settings={"synchronous_commit": "on" if settings.synchronous_commit else "off"},
    )
    setup_tracing("readside-projection", redis=settings.redis_url is not None)
    consumer, producer = _kafka_clients(settings)
    cache = (
        CacheSync(settings.redis_url, settings.cache_ttl_seconds, read_model_version(schema))
        if settings.redis_url
        else None
    )
    projection = Projection(settings, pool, consumer, producer, cache, health, stop)
    try:
        await _consume(projection, schema)
    finally:
        log.info("shutting down: leaving the consumer group")
        with contextlib.suppress(KafkaError):
            await consumer.stop()
        with contextlib.suppress(KafkaError):
            await producer.stop()
        if cache is not None:
            await cache.close()
        await pool.close()


async def _consume(projection: Projection, schema: str) -> None:
    """Start the Kafka clients (retrying), subscribe, and run until asked to stop."""
    settings, health, stop = projection.settings, projection.health, projection.stop
    for name, client in (("producer", projection.producer), ("consumer", projection.consumer)):
        if not await _start_with_retry(name, client, health, stop, settings.retry_max_seconds):
            return
    projection.consumer.subscribe([settings.topic], listener=projection.listener())
    checker = asyncio.create_task(_check_health(projection))
    depth = asyncio.create_task(watch_depth(settings)) if settings.dlq_depth_seconds else None
    try:
        log.info("consuming %s as %s into %s", settings.topic, settings.consumer_group, schema)
        await projection.run()
    finally:
        checker.cancel()
        if depth is not None:
            depth.cancel()
