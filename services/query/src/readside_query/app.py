"""The composition root: `create_app(settings)` wires everything; nothing connects on import.

The Litestar lifespan builds the Redis client, the caches, the read-model follower (which
reads the live pointer before the first request, and builds an engine per version served)
and the invalidation subscriber, and closes them on shutdown. `build_asgi_app` adds the
request-metrics wrapper and, only when OTEL_EXPORTER_OTLP_ENDPOINT is set, OpenTelemetry's
ASGI middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.cache import Invalidation
from readside_core.db import create_engine
from readside_core.read_model_version import read_model_version
from readside_core.repository import OrderViewRepository
from readside_core.telemetry import setup_tracing
from readside_query.breaker import CircuitBreaker
from readside_query.edge import Edge
from readside_query.errors import EXCEPTION_HANDLERS
from readside_query.gating import GateConfig, Gates
from readside_query.live_version import LiveVersion, ReadModelFollower, ServedVersion
from readside_query.local_cache import LocalCache
from readside_query.openapi import docs_assets, openapi_config
from readside_query.probes import PROBE_ROUTES
from readside_query.product_routes import PRODUCT_ROUTES
from readside_query.reads import OrderReads
from readside_query.redis_cache import RedisCache, connect_redis
from readside_query.request_shape import RequestShape
from readside_query.routes import ORDER_ROUTES
from readside_query.settings import QuerySettings
from readside_query.stream_routes import STREAM_ROUTES
from readside_query.streams import StreamHub
from readside_query.subscriber import InvalidationSubscriber

log = logging.getLogger(__name__)
SERVICE_NAME = "readside-query"


@dataclass
class Services:
    """What the app runs while it serves: built at start-up, closed at shutdown."""

    control: AsyncEngine  # reads the live pointer
    redis_cache: RedisCache
    follower: ReadModelFollower
    subscriber: InvalidationSubscriber
    gates: Gates
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.follower.close()
        await self.redis_cache.close()
        await self.control.dispose()


def _versions(
    settings: QuerySettings, local: LocalCache, redis_cache: RedisCache
) -> Callable[[str], ServedVersion]:
    """How a read-model version is served: its engine, its reads, its keys."""

    def serve(schema: str) -> ServedVersion:
        # No ping per request (a round trip each): a restart costs one failed statement.
        engine = create_engine(
            settings.database_url,
            schema=schema,
            pool_size=settings.db_pool_size,
            max_overflow=0,  # queue for a connection rather than connect per burst
            pre_ping=False,
            security=settings.postgres,
        )
        repository = OrderViewRepository(engine)
        reads = OrderReads(repository, local, redis_cache, read_model_version(schema))
        return ServedVersion(schema, engine, reads)

    return serve


async def start_services(
    settings: QuerySettings, local: LocalCache, live: LiveVersion, streams: StreamHub
) -> Services:
    control = create_engine(settings.database_url, pool_size=1, security=settings.postgres)
    redis_client = connect_redis(
        settings.redis_url, settings.redis_timeout_seconds, security=settings.redis
    )
    if settings.otlp_endpoint:
        # Engines created later (one per read-model version) are traced too.
        setup_tracing(SERVICE_NAME, sqlalchemy_engine=control, redis=True)
    breaker = CircuitBreaker(settings.redis_breaker_seconds)
    redis_cache = RedisCache(redis_client, settings.cache_ttl_seconds, breaker)
    serve = _versions(settings, local, redis_cache)
    follower = ReadModelFollower(live, control, serve, local, settings.read_model_poll_seconds)
    await follower.refresh()
    gates = Gates(settings.gated_max_waiting)

    def switched() -> None:
        gates.reset()
        streams.end_all()

    def applied(message: Invalidation) -> None:
        gates.observe(message.offsets.get(settings.kafka_topic, {}))
        streams.observe(message)

    follower.on_switch = switched
    subscriber = InvalidationSubscriber(
        settings.redis_url, local, lambda: live.read_model, follower.poke, applied
    )
    services = Services(control, redis_cache, follower, subscriber, gates)
    services.tasks += [
        asyncio.create_task(subscriber.run(), name="invalidation-subscriber"),
        asyncio.create_task(follower.run(), name="read-model-follower"),
    ]
    return services


def create_app(
    settings: QuerySettings, local: LocalCache | None = None, live: LiveVersion | None = None
) -> Litestar:
    """The Litestar app; `local` is the in-process cache and `live` the version served (both
    shared with the Edge fast path)."""
    local = new_local_cache(settings) if local is None else local
    live = LiveVersion() if live is None else live
    return Litestar(
        route_handlers=[
            *ORDER_ROUTES,
            *PRODUCT_ROUTES,
            *STREAM_ROUTES,
            *PROBE_ROUTES,
            docs_assets(),
        ],
        lifespan=[_lifespan(settings, local, live)],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=openapi_config(),
        state=State({"local_cache": local, "live": live}),
        debug=False,
    )


def _lifespan(
    settings: QuerySettings, local: LocalCache, live: LiveVersion
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """Start the services before the first request, put them on the app's state, close them
    at shutdown."""
    gate_config = GateConfig(
        settings.kafka_topic,
        settings.consumer_group,
        settings.gated_wait_seconds,
        settings.gated_wait_max_seconds,
    )
    streams = StreamHub(settings.stream_max, settings.stream_heartbeat_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = await start_services(settings, local, live, streams)
        app.state.update(
            control_engine=services.control,
            live=live,
            redis_cache=services.redis_cache,
            redis_required=settings.ready_requires_redis,
            subscriber=services.subscriber,
            follower=services.follower,
            gates=services.gates,
            gate_config=gate_config,
            streams=streams,
        )
        try:
            yield
        finally:
            await services.close()

    return lifespan


def new_local_cache(settings: QuerySettings) -> LocalCache:
    return LocalCache(settings.local_cache_size, settings.cache_ttl_seconds)


def build_asgi_app(settings: QuerySettings) -> Any:
    """What Granian serves: the app behind the Edge (and tracing when configured)."""
    local = new_local_cache(settings)
    live = LiveVersion()
    app: Any = Edge(create_app(settings, local, live), local, live)
    if settings.otlp_endpoint:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app = OpenTelemetryMiddleware(app)
    return RequestShape(app)
