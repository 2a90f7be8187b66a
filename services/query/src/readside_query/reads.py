"""Answering queries through the cache layers: in-process, then Redis, then PostgreSQL.

Each method returns prebuilt response bytes (or None for "not found"); encoding happens once,
when a body enters the cache. Fills follow readside_core.cache: orders through SET_IF_NEWER,
pages under the generation read *before* querying PostgreSQL, local entries only with a
ticket taken before the read (see local_cache).

One OrderReads serves one read-model version: its repository's engine reads that version's
schema, and every key, in Redis and in process, is one of that version's keys
(readside_core.read_model_version). A request uses one OrderReads from start to end;
`in_flight` counts the reads under way, so that a version being retired after a swap is
disposed of only once they are done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.read_model_version import (
    PUBLIC,
    SUMMARY_QUERY,
    ReadModelVersion,
    customer_scope,
    status_scope,
)
from readside_core.repository import OrderViewRepository
from readside_core.views import OrderStatus, json_encoder, order_to_json, summary_to_json
from readside_query.etag import TaggedBody
from readside_query.local_cache import LocalCache
from readside_query.metrics import CACHE_STATS
from readside_query.params import ListQuery
from readside_query.redis_cache import RedisCache

_LOOKUPS = CACHE_STATS.lookups

P = ParamSpec("P")
R = TypeVar("R")
Body = TypeVar("Body", bytes, bytes | None)


def _counted(
    method: Callable[Concatenate[OrderReads, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[OrderReads, P], Coroutine[Any, Any, R]]:
    async def counted(self: OrderReads, /, *args: P.args, **kwargs: P.kwargs) -> R:
        self.in_flight += 1
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.in_flight -= 1

    return counted


class OrderReads:
    def __init__(
        self,
        repository: OrderViewRepository,
        local: LocalCache,
        redis: RedisCache,
        version: ReadModelVersion = PUBLIC,
    ):
        self._repository = repository
        self._local = local
        self._redis = redis
        self.version = version
        self.in_flight = 0

    @_counted
    async def order(self, order_id: UUID) -> TaggedBody | None:
        return await self._order(order_id)

    async def _order(self, order_id: UUID) -> TaggedBody | None:
        key = self.version.order_key(order_id)
        hit: TaggedBody | None = self._local.get(key)
        if hit is not None:
            _LOOKUPS["local", "order", "hit"] += 1
            return hit
        _LOOKUPS["local", "order", "miss"] += 1
        ticket = self._local.ticket(key)
        body = await self._redis.get_order(key)
        if body is not None:
            _LOOKUPS["redis", "order", "hit"] += 1
            tagged = TaggedBody(body)
        else:
            _LOOKUPS["redis", "order", "miss"] += 1
            view = await self._repository.get_by_id(order_id)
            if view is None:
                return None
            tagged = TaggedBody(json_encoder.encode(order_to_json(view)))
            await self._redis.fill_order(key, view.version, tagged.body)
        self._local.put(key, tagged, ticket, key)
        return tagged

    @_counted
    async def order_versions(self, customer_id: UUID) -> dict[UUID, int]:
        """Straight from PostgreSQL: a customer's change stream must not read a stale cache."""
        return await self._repository.order_versions_by_customer(customer_id)

    @_counted
    async def stored_offsets(self, group: str, topic: str) -> dict[int, int]:
        return await self._repository.stored_offsets(group, topic)

    @_counted
    async def order_by_number(self, order_number: str) -> TaggedBody | None:
        order_id = await self._order_id(order_number)
        return None if order_id is None else await self._order(order_id)

    async def _order_id(self, order_number: str) -> UUID | None:
        # number -> id never changes: no invalidation needed, at either layer.
        key = self.version.number_key(order_number)
        hit: UUID | None = self._local.get(key)
        if hit is not None:
            _LOOKUPS["local", "number", "hit"] += 1
            return hit
        _LOOKUPS["local", "number", "miss"] += 1
        ticket = self._local.ticket(key)
        cached = await self._redis.get_order_id(key)
        if cached is not None:
            _LOOKUPS["redis", "number", "hit"] += 1
            order_id = UUID(cached)
        else:
            _LOOKUPS["redis", "number", "miss"] += 1
            view = await self._repository.search_by_order_number(order_number)
            if view is None:
                return None
            order_id = view.order_id
            await self._redis.fill_order_id(key, str(order_id))
        self._local.put(key, order_id, ticket, key)
        return order_id

    @_counted
    async def customer_orders(self, customer_id: UUID, query: ListQuery) -> bytes:
        async def load() -> bytes:
            # One after the other: each holds one pooled connection at a time, so a full
            # pool cannot deadlock (requests holding one connection, waiting for a second).
            views = await self._repository.list_by_customer(
                customer_id, query.limit, query.offset, query.filters
            )
            total = await self._repository.count_by_customer(customer_id, query.filters)
            return _encode(
                {
                    "orders": [order_to_json(v) for v in views],
                    "total": total,
                    "limit": query.limit,
                    "offset": query.offset,
                }
            )

        return await self._page(customer_scope(customer_id), query.cache_query, "page", load)

    @_counted
    async def status_orders(self, status: OrderStatus, query: ListQuery) -> bytes:
        async def load() -> bytes:
            views = await self._repository.list_by_status(
                status, query.limit, query.offset, query.filters
            )
            return _encode(
                {
                    "orders": [order_to_json(v) for v in views],
                    "status": status.value,
                    "limit": query.limit,
                    "offset": query.offset,
                }
            )

        return await self._page(status_scope(status.value), query.cache_query, "page", load)

    @_counted
    async def customer_summary(self, customer_id: UUID) -> bytes | None:
        async def load() -> bytes | None:
            summary = await self._repository.get_customer_summary(customer_id)
            return None if summary is None else _encode(summary_to_json(summary))

        return await self._page(customer_scope(customer_id), SUMMARY_QUERY, "summary", load)

    @_counted
    async def model_page(
        self, scope: str, query: str, kind: str, load: Callable[[AsyncEngine], Awaitable[Body]]
    ) -> Body:
        """A registered read model's entry (readside_core.read_models): `load` reads it from
        this version's engine; cached in `scope` like the pages above."""
        return await self._page(scope, query, kind, lambda: load(self._repository.engine))

    async def _page(
        self,
        scope: str,
        query: str,
        kind: str,
        load: Callable[[], Awaitable[Body]],
    ) -> Body:
        """A page through the layers; `load` reads PostgreSQL (None: nothing to show, e.g. a
        customer without orders: answered, not cached)."""
        version = self.version
        local_scope = version.local_scope(scope)
        key = version.local_page_key(scope, query)
        hit: Body = self._local.get(key)
        if hit is not None:
            _LOOKUPS["local", kind, "hit"] += 1
            return hit
        _LOOKUPS["local", kind, "miss"] += 1
        ticket = self._local.ticket(local_scope)
        generation, body = await self._redis.get_page(
            version.generation_key(scope), version.page_head(scope), query
        )
        if body is not None:
            _LOOKUPS["redis", kind, "hit"] += 1
        else:
            _LOOKUPS["redis", kind, "miss"] += 1
            body = await load()
            if body is None:
                return None
            if generation is not None:
                await self._redis.fill_page(version.page_key(scope, generation, query), body)
        self._local.put(key, body, ticket, local_scope, scope=local_scope)
        return body


def _encode(value: dict[str, Any]) -> bytes:
    return json_encoder.encode(value)
