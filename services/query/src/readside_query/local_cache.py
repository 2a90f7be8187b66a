"""The in-process cache in front of Redis: a bounded LRU with a TTL, evicted by pub/sub.

Keys are the Redis names (`order:{uuid}`), plus `page:{scope}:{query}` for list pages and
summaries (no generation: invalidation messages evict a scope's pages here) and
`number:{order_number}` for the immutable number -> order id mapping.

It is only trusted while the invalidation subscription is live: `disable()` (subscriber
lost) clears it and makes every lookup a miss until `enable()` (subscribed again).

A reader that missed takes a `ticket` before reading Redis or PostgreSQL and hands it back
to `put`. The ticket is the cache's epoch and the invalidation counter of the key's stripe;
if an invalidation touched that stripe (or the cache was flushed, disabled or re-enabled) in
between, the value may be stale and is not stored. Stripes are shared by unrelated keys, so
a collision only costs an extra miss.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Final

_STRIPES: Final = 4096
_MASK: Final = _STRIPES - 1

Ticket = tuple[int, int]


class LocalCache:
    def __init__(
        self,
        max_entries: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        # key -> (expires at, value, scope or None)
        self._entries: OrderedDict[str, tuple[float, Any, str | None]] = OrderedDict()
        self._scopes: dict[str, set[str]] = {}
        self._stripes = [0] * _STRIPES
        self._epoch = 0
        self.enabled = False

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any:
        """The live value under key, or None (also when disabled)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def ticket(self, guard: str) -> Ticket:
        """Taken before reading the source; `guard` is the order key or the page's scope."""
        return (self._epoch, self._stripes[hash(guard) & _MASK])

    def put(
        self, key: str, value: Any, ticket: Ticket, guard: str, scope: str | None = None
    ) -> bool:
        """Store unless disabled or invalidated since `ticket` was taken. True if stored."""
        if not self.enabled or self.max_entries <= 0:
            return False
        if ticket != (self._epoch, self._stripes[hash(guard) & _MASK]):
            return False
        if key in self._entries:
            self._remove(key)
        self._entries[key] = (self._clock() + self.ttl_seconds, value, scope)
        if scope is not None:
            self._scopes.setdefault(scope, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._remove(next(iter(self._entries)))
        return True

    def invalidate(self, order_keys: Iterable[str], scopes: Iterable[str]) -> None:
        """Drop these orders and every page of these scopes; fail fills in flight for them."""
        for key in order_keys:
            self._stripes[hash(key) & _MASK] += 1
            self._entries.pop(key, None)
        for scope in scopes:
            self._stripes[hash(scope) & _MASK] += 1
            for key in self._scopes.pop(scope, ()):
                self._entries.pop(key, None)

    def flush(self) -> None:
        """Drop everything and fail every fill in flight."""
        self._epoch += 1
        self._entries.clear()
        self._scopes.clear()

    def enable(self) -> None:
        # New epoch: what was read before the subscription was live may be stale.
        self.flush()
        self.enabled = self.max_entries > 0

    def disable(self) -> None:
        self.enabled = False
        self.flush()

    def _remove(self, key: str) -> None:
        _, _, scope = self._entries.pop(key)
        if scope is not None:
            keys = self._scopes.get(scope)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._scopes[scope]
