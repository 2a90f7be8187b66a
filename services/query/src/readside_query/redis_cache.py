"""The Redis layer of the cache, following readside_core.cache's protocol.

Order lookups and order fills from concurrent requests are coalesced (readside_core.coalesce):
one MGET, one SET_IF_NEWER over many keys. Every call has a short socket timeout and no
retries. A failure is counted, logged at most every few seconds, and opens the circuit
breaker, so later requests skip Redis for a moment instead of waiting on it: a lookup then
reports a miss and a fill does nothing. Requests never see a Redis error.

Keys come from the caller (a readside_core.cache.ReadModelVersion: one per read-model version),
so one client and one breaker serve every version. `order_number:{order_number}` -> order id
needs no invalidation (a number never changes); it expires with the TTL.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from readside_core.cache import GET_PAGE, SET_IF_NEWER, is_mark
from readside_core.coalesce import Coalescer
from readside_core.connection_errors import explain_redis_error
from readside_core.connection_security import RedisSecurity, redis_kwargs
from readside_query.breaker import CircuitBreaker, RateLimitedLog
from readside_query.metrics import REDIS_ERRORS, REDIS_SKIPPED

log = logging.getLogger(__name__)

REDIS_FAILURES = (RedisError, OSError)


def no_retries() -> Retry:
    return Retry(NoBackoff(), 0)


def connect_redis(
    url: str,
    timeout_seconds: float,
    max_connections: int = 64,
    security: RedisSecurity | None = None,
) -> aioredis.Redis:
    """A client that fails fast: short timeouts, no retries (the breaker decides).

    The pool blocks (up to the timeout) when all connections are busy, instead of failing at
    once: a burst of misses must not look like Redis being down.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=no_retries(),
        **redis_kwargs(url, security),
    )
    return aioredis.Redis(connection_pool=pool)


class RedisCache:
    def __init__(self, client: aioredis.Redis, ttl_seconds: int, breaker: CircuitBreaker):
        self._client = client
        self._ttl = ttl_seconds
        self._breaker = breaker
        self._log = RateLimitedLog(log)
        self._set_if_newer = client.register_script(SET_IF_NEWER)
        self._get_page = client.register_script(GET_PAGE)
        # Concurrent requests share one MGET and one fill script (readside_core.coalesce).
        self._get = Coalescer(self._mget)
        self._fill_orders = Coalescer(self._fill_many)

    async def get_order(self, key: str) -> bytes | None:
        """The cached body; None for a miss or a mark (the order changed since it was read)."""
        cached = await self._get(key)
        return None if cached is None or is_mark(cached) else cached

    async def fill_order(self, key: str, version: int, body: bytes) -> None:
        await self._fill_orders((key, version, body))

    async def _mget(self, keys: list[str]) -> list[bytes | None]:
        values: list[bytes | None] | None = await self._call("get", self._client.mget(keys))
        return values if values is not None else [None] * len(keys)

    async def _fill_many(self, fills: list[tuple[str, int, bytes]]) -> list[None]:
        args: list[int | bytes] = [self._ttl]
        for _, version, body in fills:
            args += (version, body)
        keys = [key for key, _, _ in fills]
        await self._call("fill_order", self._set_if_newer(keys=keys, args=args))
        return [None] * len(fills)

    async def get_order_id(self, number_key: str) -> str | None:
        raw = await self._get(number_key)
        return raw.decode() if raw is not None else None

    async def fill_order_id(self, number_key: str, order_id: str) -> None:
        set_call = self._client.set(number_key, order_id, ex=self._ttl)
        await self._call("fill_order_id", set_call)

    async def get_page(
        self, generation_key: str, page_head: str, query: str
    ) -> tuple[int | None, bytes | None]:
        """(generation, page body or None); generation None when Redis could not answer."""
        reply = await self._call(
            "get_page",
            self._get_page(keys=[generation_key], args=[page_head, query, self._ttl]),
        )
        if reply is None:
            return None, None
        generation, page = reply
        return int(generation), page or None

    async def fill_page(self, page_key: str, body: bytes) -> None:
        await self._call("fill_page", self._client.set(page_key, body, ex=self._ttl))

    async def ping(self) -> bool:
        """For readiness: goes to Redis whatever the breaker says; never raises."""
        try:
            await self._client.ping()
        except REDIS_FAILURES as exc:
            self._log.warning("readiness: redis unreachable: %s", explain_redis_error(exc))
            return False
        return True

    async def _call(self, operation: str, call: Any) -> Any:
        if not self._breaker.allows():
            call.close()  # the coroutine was never awaited
            REDIS_SKIPPED.inc()
            return None
        try:
            result = await call
        except REDIS_FAILURES as exc:
            self._breaker.failed()
            REDIS_ERRORS.labels(operation).inc()
            self._log.warning(
                "redis %s failed, serving from PostgreSQL for %.1fs: %s",
                operation,
                self._breaker.open_seconds,
                explain_redis_error(exc),
            )
            return None
        self._breaker.succeeded()
        return result

    async def close(self) -> None:
        await self._client.aclose()
