"""The query service's settings: one typed object read from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from readside_core.connection_security import PostgresSecurity, RedisSecurity
from readside_core.db import async_database_url
from readside_core.settings import SettingsError, env_float, env_int, env_str

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@dataclass(frozen=True, slots=True)
class QuerySettings:
    database_url: str
    """DATABASE_URL: the read model's PostgreSQL (postgres:// or postgresql://). Required."""
    redis_url: str
    """REDIS_URL: the shared cache, e.g. redis://host:6379/0. Required."""
    cache_ttl_seconds: int = 300
    """CACHE_TTL_SECONDS: lifetime of every cache entry, in Redis and in process (seed: 300)."""
    port: int = 8081
    """PORT: HTTP port (seed: 8081)."""
    host: str = "0.0.0.0"
    """HOST: address to listen on."""
    workers: int = 1
    """WORKERS: Granian worker processes. Prefer 1 per pod and scale pods (see README)."""
    log_level: str = "info"
    """LOG_LEVEL: critical, error, warning, info or debug."""
    local_cache_size: int = 10_000
    """LOCAL_CACHE_SIZE: entries in each worker's in-process LRU; 0 turns it off."""
    db_pool_size: int = 10
    """DB_POOL_SIZE: PostgreSQL connections per worker (as many again may overflow)."""
    redis_timeout_seconds: float = 0.25
    """REDIS_TIMEOUT_SECONDS: connect and read timeout of every Redis call."""
    redis_breaker_seconds: float = 2.0
    """REDIS_BREAKER_SECONDS: after a Redis error, skip Redis for this long."""
    ready_requires_redis: bool = True
    """READY_REQUIRES_REDIS: whether /readyz answers 503 while Redis is down (1 or 0)."""
    otlp_endpoint: str | None = None
    """OTEL_EXPORTER_OTLP_ENDPOINT: when set, traces go there over OTLP/HTTP."""
    read_model_poll_seconds: float = 2.0
    """READ_MODEL_POLL_SECONDS: how often the live read-model pointer is read (a swap message
    on the invalidation channel makes it read at once)."""
    kafka_topic: str = "order-events"
    """KAFKA_TOPIC: the topic whose offsets `min_offsets` names (the projection's)."""
    consumer_group: str = "projection-service"
    """CONSUMER_GROUP: the projection's group when no live pointer names one."""
    gated_wait_seconds: float = 5.0
    """GATED_WAIT_SECONDS: how long a gated read waits by default (5)."""
    gated_wait_max_seconds: float = 30.0
    """GATED_WAIT_MAX_SECONDS: the longest `wait` a request may ask for (30)."""
    gated_max_waiting: int = 1000
    """GATED_MAX_WAITING: gated reads waiting at once per process; beyond, 503 (1000)."""
    stream_max: int = 1000
    """STREAM_MAX: change streams (SSE) open at once per process; beyond, 503 (1000)."""
    stream_heartbeat_seconds: float = 15.0
    """STREAM_HEARTBEAT_SECONDS: a comment line on an idle stream this often, so proxies and
    clients see it alive (15)."""
    postgres: PostgresSecurity = field(default_factory=PostgresSecurity)
    """PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGPASSWORD(_FILE)."""
    redis: RedisSecurity = field(default_factory=RedisSecurity)
    """REDIS_USERNAME, REDIS_PASSWORD(_FILE), REDIS_SSL_* (with a rediss:// REDIS_URL)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> QuerySettings:
        """Read and check every setting; raise SettingsError naming the first bad one."""
        database_url, redis_url = _urls(env)
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            cache_ttl_seconds=env_int("CACHE_TTL_SECONDS", 300, minimum=1, env=env),
            port=_port(env),
            host=env_str("HOST", "0.0.0.0", env=env),
            workers=env_int("WORKERS", 1, minimum=1, env=env),
            log_level=_log_level(env),
            local_cache_size=env_int("LOCAL_CACHE_SIZE", 10_000, minimum=0, env=env),
            db_pool_size=env_int("DB_POOL_SIZE", 10, minimum=1, env=env),
            redis_timeout_seconds=env_float("REDIS_TIMEOUT_SECONDS", 0.25, minimum=0.001, env=env),
            redis_breaker_seconds=env_float("REDIS_BREAKER_SECONDS", 2.0, minimum=0.0, env=env),
            ready_requires_redis=_env_bool("READY_REQUIRES_REDIS", True, env),
            otlp_endpoint=(os.environ if env is None else env).get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or None,
            read_model_poll_seconds=env_float("READ_MODEL_POLL_SECONDS", 2.0, minimum=0.1, env=env),
            kafka_topic=env_str("KAFKA_TOPIC", "order-events", env=env),
            consumer_group=env_str("CONSUMER_GROUP", "projection-service", env=env),
            gated_wait_seconds=env_float("GATED_WAIT_SECONDS", 5.0, minimum=0.0, env=env),
            gated_wait_max_seconds=env_float("GATED_WAIT_MAX_SECONDS", 30.0, minimum=0.0, env=env),
            gated_max_waiting=env_int("GATED_MAX_WAITING", 1000, minimum=0, env=env),
            stream_max=env_int("STREAM_MAX", 1000, minimum=0, env=env),
            stream_heartbeat_seconds=env_float(
                "STREAM_HEARTBEAT_SECONDS", 15.0, minimum=0.01, env=env
            ),
            postgres=PostgresSecurity.from_env(env, database_url),
            redis=RedisSecurity.from_env(env, redis_url),
        )


def _urls(env: Mapping[str, str] | None) -> tuple[str, str]:
    """DATABASE_URL and REDIS_URL, each checked for its scheme."""
    database_url = env_str("DATABASE_URL", env=env)
    try:
        async_database_url(database_url)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    redis_url = env_str("REDIS_URL", env=env)
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL={redis_url!r} is not a URL like redis://host:6379/0")
    return database_url, redis_url


def _port(env: Mapping[str, str] | None) -> int:
    port = env_int("PORT", 8081, minimum=1, env=env)
    if port > 65535:
        raise SettingsError(f"PORT={port} is above the maximum of 65535")
    return port


def _log_level(env: Mapping[str, str] | None) -> str:
    log_level = env_str("LOG_LEVEL", "info", env=env).lower()
    if log_level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL={log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    return log_level


def _env_bool(name: str, default: bool, env: Mapping[str, str] | None) -> bool:
    raw = env_str(name, "1" if default else "0", env=env).lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use 1 or 0)")
