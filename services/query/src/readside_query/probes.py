"""Health, liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.response.base import ASGIResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.connection_errors import explain_postgres_error
from readside_core.read_model_version import PUBLIC_SCHEMA
from readside_core.views import json_encoder
from readside_query.live_version import LiveVersion
from readside_query.metrics import render_metrics
from readside_query.redis_cache import RedisCache

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 2.0
_OK = json_encoder.encode({"status": "ok"})


@dataclass(frozen=True, slots=True)
class Readiness:
    postgres: bool
    redis: bool
    redis_required: bool
    read_model: str | None = PUBLIC_SCHEMA  # the version served; None: not known yet

    @property
    def ready(self) -> bool:
        return (
            self.postgres
            and (self.redis or not self.redis_required)
            and self.read_model is not None
        )

    def body(self) -> dict[str, Any]:
        down = [name for name, up in (("postgres", self.postgres), ("redis", self.redis)) if not up]
        return {
            "status": "ready" if self.ready else "not_ready",
            "postgres": "up" if self.postgres else "down",
            "redis": "up" if self.redis else "down",
            "down": down,
            "read_model": self.read_model,
        }


async def postgres_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not reachable"; say why in the log
        log.warning("readiness: postgres unreachable: %s", explain_postgres_error(exc))
        return False
    return True


async def check_readiness(
    engine: AsyncEngine, redis: RedisCache, redis_required: bool, read_model: str | None
) -> Readiness:
    postgres_up, redis_up = await asyncio.gather(postgres_reachable(engine), redis.ping())
    return Readiness(postgres_up, redis_up, redis_required, read_model)


@get("/health", include_in_schema=True)
async def health() -> ASGIResponse:
    """The seed's health check: the process answers (no I/O)."""
    return ASGIResponse(body=_OK, media_type="application/json")


@get("/livez")
async def livez() -> ASGIResponse:
    """Liveness: the process answers (no I/O)."""
    return ASGIResponse(body=_OK, media_type="application/json")


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> ASGIResponse:
    """Readiness: 200 when PostgreSQL and Redis answer and the live read model is known, else
    503 naming what is down."""
    state = request.app.state
    live: LiveVersion = state.live
    version = live.version
    engine = state.control_engine if version is None else version.engine
    readiness = await check_readiness(engine, state.redis_cache, state.redis_required, live.schema)
    return ASGIResponse(
        body=json_encoder.encode(readiness.body()),
        status_code=200 if readiness.ready else 503,
        media_type="application/json",
    )


@get("/metrics", include_in_schema=False)
async def metrics() -> ASGIResponse:
    """Prometheus text exposition."""
    body, content_type = render_metrics()
    # Litestar appends the charset to text/* media types itself: once is enough.
    return ASGIResponse(body=body, media_type=content_type.replace("; charset=utf-8", ""))


PROBE_ROUTES = [health, livez, readyz, metrics]
