"""Coalescing concurrent lookups: what a busy event loop asks for in one iteration goes out
as one call (one MGET, one script, one query) instead of one round trip per request.

Under load, the requests a server has in flight reach the same await at about the same
moment, and each one paying for its own round trip, and for its client library's per-call
work (larger than the round trip itself for redis-py), is what a cold read costs. A
Coalescer collects the keys asked for until the loop's current iteration has run
(`call_soon`), then makes one batch call for all of them (at most `max_batch` keys a call).
A lone request waits for nothing but that iteration.

Every caller gets a future of its own: cancelling one request (a client that hung up)
cancels neither the batch nor the other requests waiting on it. A batch call that fails
fails every request of that batch with its exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# The fetch takes distinct keys and answers one value per key, in their order.
Fetch = Callable[[list[K]], Awaitable[Sequence[V]]]


class Coalescer(Generic[K, V]):
    def __init__(self, fetch: Fetch[K, V], max_batch: int = 256) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._running: set[asyncio.Task[None]] = set()

    def __call__(self, key: K) -> asyncio.Future[V]:
        """The value of `key`, from the next batch call."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._flush)
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.append((key, future))
        if len(self._waiting) >= self._max_batch:
            self._flush()
        return future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        if batch:  # empty when a full batch went before this iteration's scheduled flush
            task = asyncio.get_running_loop().create_task(self._answer(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        keys = list(dict.fromkeys(key for key, _ in batch))
        try:
            values = await self._fetch(keys)
        except asyncio.CancelledError:  # the loop is closing: so are its requests
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        found = dict(zip(keys, values, strict=True))
        for key, future in batch:
            if not future.done():
                future.set_result(found[key])
