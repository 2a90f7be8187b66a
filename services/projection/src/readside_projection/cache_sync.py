"""After each commit: bring the query service's cache up to date (readside_core.cache protocol).

Changed orders are written through where Redis holds their body and marked elsewhere
(readside_core.cache.ChangeSender), touched scopes get new generations, and an Invalidation
goes out on the pub/sub channel for the in-process caches. If Redis is away
the work is kept and retried after the next commit; past `max_pending` orders the oldest are
dropped (their Redis entries then expire by TTL) and the next message asks pods to flush.
Keys and messages are those of the read-model version this process writes.
"""

from __future__ import annotations

import logging
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from readside_core.cache import ChangeSender
from readside_core.connection_security import RedisSecurity, redis_kwargs
from readside_core.read_model_version import PUBLIC, ReadModelVersion
from readside_core.views import OrderView
from readside_projection.metrics import CACHE_ERRORS

log = logging.getLogger(__name__)


class CacheSync:
    def __init__(
        self,
        redis_url: str,
        ttl_seconds: int,
        version: ReadModelVersion = PUBLIC,
        security: RedisSecurity | None = None,
        max_pending: int = 100_000,
    ) -> None:
        self._redis = aioredis.from_url(
            redis_url,
            socket_timeout=2,
            socket_connect_timeout=2,
            **redis_kwargs(redis_url, security),
        )
        self._sender = ChangeSender(self._redis, version, ttl_seconds)
        self._max_pending = max_pending
        self._orders: dict[UUID, OrderView] = {}
        self._scopes: set[str] = set()
        self._offsets: dict[str, dict[int, int]] = {}
        self._flush = False

    async def publish(
        self,
        changed: dict[UUID, OrderView],
        scopes: set[str],
        offsets: dict[tuple[str, int], int] | None = None,
    ) -> None:
        """Send these changes and stored offsets (and any left over from a failed attempt)."""
        self._orders.update(changed)
        self._scopes |= scopes
        for (topic, partition), offset in (offsets or {}).items():
            self._offsets.setdefault(topic, {})[partition] = offset
        if len(self._orders) > self._max_pending:
            for order_id in list(self._orders)[: len(self._orders) - self._max_pending]:
                del self._orders[order_id]
            self._flush = True
        if not self._orders and not self._scopes and not self._flush and not self._offsets:
            return
        try:
            await self._send()
        except (RedisError, OSError) as exc:
            CACHE_ERRORS.inc()
            log.warning("cache update failed, kept %d orders for retry: %s", len(self._orders), exc)
            return
        self._orders.clear()
        self._scopes.clear()
        self._offsets = {}
        self._flush = False

    async def _send(self) -> None:
        await self._sender.send(
            list(self._orders.values()), self._scopes, flush=self._flush, offsets=self._offsets
        )

    async def close(self) -> None:
        await self._redis.aclose()
