"""Composition root of the projection process: build everything, run, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from readside_core.connection_errors import explain_postgres_error
from readside_core.connection_security import KafkaSecurity
from readside_core.db import create_pool, pooled
from readside_core.read_model_version import PUBLIC_SCHEMA, read_model_version
from readside_core.telemetry import setup_tracing
from readside_kafka.diagnosis import diagnose
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
    settings: ProjectionSettings,
) -> bool:
    """Start a client, retrying with capped backoff; the cause (a wrong password, an untrusted
    CA...) goes to /readyz and is logged once each time it changes, naming the setting."""
    delay, said = 0.5, None
    while not stop.is_set():
        try:
            await client.start()
            return True
        except KafkaError as exc:
            cause = await diagnose(settings.kafka_brokers, settings.kafka) or str(exc)
            health.kafka = f"{name} cannot connect: {cause}"
            if cause != said:
                log.error("Kafka %s cannot connect (retrying): %s", name, cause)
                said = cause
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.retry_max_seconds)
    return False


async def _ping(pool: asyncpg.Pool) -> None:
    """SELECT 1 within HEALTH_CHECK_SECONDS (a connection it fails on is closed: pooled)."""
    async with pooled(pool) as conn:
        await conn.fetchval("SELECT 1", timeout=HEALTH_CHECK_SECONDS)


async def _check_health(projection: Projection) -> None:
    """Keep readiness current even while no events flow."""
    while True:
        try:
            await _ping(projection.pool)
            projection.health.database = None
        except Exception as exc:  # any failure to answer means not ready; say why
            projection.health.database = explain_postgres_error(exc)
        try:
            await asyncio.wait_for(projection.consumer.topics(), timeout=HEALTH_CHECK_SECONDS)
            projection.health.kafka = None
        except (KafkaError, TimeoutError) as exc:
            settings = projection.settings
            cause = await diagnose(settings.kafka_brokers, settings.kafka) or repr(exc)
            projection.health.kafka = f"metadata request failed: {cause}"
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
    security: KafkaSecurity = settings.kafka
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
        **security.client_kwargs(),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_brokers,
        acks="all",
        enable_idempotence=True,
        **security.client_kwargs(),
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
        security=settings.postgres,
    )
    setup_tracing("readside-projection", redis=settings.redis_url is not None)
    consumer, producer = _kafka_clients(settings)
    cache = (
        CacheSync(
            settings.redis_url,
            settings.cache_ttl_seconds,
            read_model_version(schema),
            settings.redis,
        )
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
        if not await _start_with_retry(name, client, health, stop, settings):
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
