"""The invalidation subscriber: keeps the in-process cache honest, or switched off.

A background task subscribes to INVALIDATION_CHANNEL. Once Redis confirms the subscription
the local cache is enabled; every `Invalidation` of the read-model version this process serves
then evicts its orders and scopes (or everything, with `flush`); messages of other versions
(a shadow rebuild's) are ignored, and a swap message makes the follower re-read the live
pointer at once. When the connection fails, or a ping goes unanswered, the local cache is
disabled and cleared, and the task reconnects with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import msgspec
import redis.asyncio as aioredis

from readside_core.cache import INVALIDATION_CHANNEL, Invalidation, invalidation_decoder
from readside_core.connection_security import redis_kwargs
from readside_core.read_model_version import PUBLIC, ReadModelVersion
from readside_query.breaker import RateLimitedLog
from readside_query.local_cache import LocalCache
from readside_query.metrics import INVALIDATIONS, SUBSCRIPTIONS
from readside_query.redis_cache import REDIS_FAILURES, no_retries

log = logging.getLogger(__name__)


def apply_invalidation(
    local: LocalCache,
    data: bytes,
    serving: ReadModelVersion | None = PUBLIC,
    on_applied: Callable[[Invalidation], None] = lambda _: None,
) -> str:
    """Apply one pub/sub message to the local cache (holding `serving`'s entries), then hand
    it to `on_applied` (read-after-write waiters); returns the outcome for metrics: applied,
    flush, undecodable, swap or other_read_model."""
    try:
        message = invalidation_decoder.decode(data)
    except msgspec.DecodeError as exc:
        # We cannot tell what changed: drop everything rather than serve stale data.
        log.warning("undecodable invalidation message, flushing the local cache: %s", exc)
        local.flush()
        return "undecodable"
    if message.swap:
        return "swap"  # the caller re-reads the pointer; a switch empties the cache
    if serving is None or message.schema != serving.schema:
        return "other_read_model"
    if message.flush:
        local.flush()
        on_applied(message)
        return "flush"
    local.invalidate(
        [serving.order_key(order_id) for order_id in message.orders],
        [serving.local_scope(scope) for scope in message.scopes],
    )
    on_applied(message)
    return "applied"


class InvalidationSubscriber:
    def __init__(
        self,
        redis_url: str,
        local: LocalCache,
        serving: Callable[[], ReadModelVersion | None] = lambda: PUBLIC,
        on_swap: Callable[[], None] = lambda: None,
        on_applied: Callable[[Invalidation], None] = lambda _: None,
        *,
        connect_timeout: float = 1.0,
        ping_interval: float = 5.0,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self._url = redis_url
        self._local = local
        self._serving = serving
        self._on_swap = on_swap
        self._on_applied = on_applied
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._log = RateLimitedLog(log)
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        """Forever: subscribe, apply messages; on failure disable the cache, back off, retry."""
        backoff = self._min_backoff
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (*REDIS_FAILURES, TimeoutError) as exc:
                self._log.warning("invalidation subscription lost, local cache off: %r", exc)
            except Exception:
                log.exception("invalidation subscriber failed, local cache off; restarting it")
            self._local.disable()
            was_subscribed = self.subscribed.is_set()
            self.subscribed.clear()
            if was_subscribed:
                backoff = self._min_backoff
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _listen(self) -> None:
        # No retries: redis-py would reconnect and resubscribe behind our back, and messages
        # published in the gap would be lost while the local cache stayed on.
        client = aioredis.from_url(
            self._url,
            socket_connect_timeout=self._connect_timeout,
            socket_keepalive=True,
            retry=no_retries(),
            **redis_kwargs(self._url),
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(INVALIDATION_CHANNEL)
            last_heard = time.monotonic()
            pinged = False
            while True:
                message = await pubsub.get_message(timeout=self._ping_interval / 2)
                now = time.monotonic()
                if message is None:
                    if now - last_heard > 2 * self._ping_interval:
                        raise TimeoutError("redis did not answer a ping on the subscription")
                    if now - last_heard > self._ping_interval and not pinged:
                        await pubsub.ping()
                        pinged = True
                    continue
                last_heard, pinged = now, False
                self._handle(message)
        finally:
            await _quietly(pubsub.aclose())  # type: ignore[no-untyped-call]
            await _quietly(client.aclose())

    def _handle(self, message: dict[str, object]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self._local.enable()
            self.subscribed.set()
            SUBSCRIPTIONS.inc()
            log.info("subscribed to %s; local cache on", INVALIDATION_CHANNEL)
        elif kind == "message":
            data = message["data"]
            outcome = apply_invalidation(
                self._local,
                data if isinstance(data, bytes) else b"",
                self._serving(),
                self._on_applied,
            )
            if outcome == "swap":
                self._on_swap()
            INVALIDATIONS.labels(outcome).inc()


async def _quietly(closing: object) -> None:
    try:
        await closing  # type: ignore[misc]
    except Exception as exc:  # closing a broken connection: nothing more to do
        log.debug("closing the subscription connection failed: %r", exc)
