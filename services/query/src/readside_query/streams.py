"""Live change streams (Server-Sent Events) of an order and of a customer.

Every event carries a whole state, never a diff: `order` events the order's body, `summary`
events the customer's summary. A stream starts with the current state and then sends each
committed change. Changes reach this process on the invalidation channel every query pod
already subscribes to (readside_query.subscriber), so a stream on any pod sees the commits
of any projection; the StreamHub wakes only the streams that watch what a commit changed.

Event ids make `Last-Event-ID` resume without repeats and without losing a state:
- an order stream's id is the order's `version`: a resumed stream sends the order only once
  its version is above the one the client saw;
- a customer stream's id is the sum of its orders' versions (it grows with every change of
  any of them). While connected the stream sends exactly the orders whose version moved,
  then the summary. A stream resumed from an older id cannot know which orders the client
  missed, so it sends every order of the customer once, then the summary; one resumed from
  the current id sends nothing until the next change.

A stream ends with an `end` event when the read-model version served is swapped: the client
reconnects (after `retry` milliseconds) and reads the new version.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from uuid import UUID

from readside_core.cache import Invalidation
from readside_query.errors import ApiError
from readside_query.gating import body_version
from readside_query.metrics import OPEN_STREAMS
from readside_query.reads import OrderReads

RETRY_MILLISECONDS = 1000


class Watcher:
    """One open stream's doorbell: rung when what it watches changed, or at the end."""

    __slots__ = ("ended", "key", "rung")

    def __init__(self, key: str) -> None:
        self.key = key
        self.rung = asyncio.Event()
        self.ended = False

    async def wait(self, heartbeat: float) -> bool:
        """Until rung (True) or `heartbeat` seconds passed (False)."""
        try:
            await asyncio.wait_for(self.rung.wait(), heartbeat)
        except TimeoutError:
            return False
        return True


class StreamHub:
    """This process's open streams, by the order or customer they watch."""

    def __init__(self, max_streams: int, heartbeat: float) -> None:
        self._max = max_streams
        self.heartbeat = heartbeat
        self._watchers: dict[str, set[Watcher]] = {}
        self.open_streams = 0

    def open(self, key: str) -> Watcher:
        if self.open_streams >= self._max:
            raise ApiError(
                503, f"this instance already serves {self._max} streams (STREAM_MAX); retry later"
            ).with_headers({"Retry-After": "5"})
        watcher = Watcher(key)
        self._watchers.setdefault(key, set()).add(watcher)
        self.open_streams += 1
        OPEN_STREAMS.inc()
        return watcher

    def close(self, watcher: Watcher) -> None:
        watchers = self._watchers.get(watcher.key)
        if watchers is not None and watcher in watchers:
            watchers.discard(watcher)
            self.open_streams -= 1
            OPEN_STREAMS.dec()
            if not watchers:
                del self._watchers[watcher.key]

    def observe(self, message: Invalidation) -> None:
        """Ring the streams of every order and customer scope a commit changed (all of them
        for a flush: the projection lost track of what it changed)."""
        if message.flush:
            self._ring(list(self._watchers))
            return
        self._ring([order_key(order_id) for order_id in message.orders])
        self._ring(message.scopes)

    def end_all(self) -> None:
        """Another read-model version is served: every stream ends (clients reconnect)."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.ended = True
                watcher.rung.set()

    def _ring(self, keys: list[str]) -> None:
        for key in keys:
            for watcher in self._watchers.get(key, ()):
                watcher.rung.set()


def event(kind: str, data: bytes, event_id: int | None = None) -> bytes:
    """One SSE event; `data` is one line of JSON."""
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head.encode() + b"data: " + data + b"\n\n"


HEARTBEAT = b": heartbeat\n\n"
ENDED = event("end", b'{"reason":"the read-model version changed; reconnect"}')


def order_key(order_id: UUID | str) -> str:
    """What an order's stream watches: the ids the invalidation message lists."""
    return f"order:{order_id}"


async def watch(
    hub: StreamHub, watcher: Watcher, changes: Callable[[], AsyncIterator[bytes]]
) -> AsyncIterator[bytes]:
    """A stream's life: what `changes()` has to send, again each time the watcher is rung;
    heartbeats meanwhile; the end event on a swap. `watcher` is open already (hub.open: a
    full hub is a 503 before the response starts), and closed when the stream ends."""
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        while True:
            watcher.rung.clear()
            async for chunk in changes():
                yield chunk
            rung = await watcher.wait(hub.heartbeat)
            if watcher.ended:
                yield ENDED
                return
            if not rung:
                yield HEARTBEAT
    finally:
        hub.close(watcher)


def order_stream(
    hub: StreamHub, watcher: Watcher, reads: OrderReads, order_id: UUID, last_seen: int
) -> AsyncIterator[bytes]:
    """The order's states, from the first version above `last_seen` (watcher: order_key)."""
    sent = last_seen

    async def changes() -> AsyncIterator[bytes]:
        nonlocal sent
        tagged = await reads.order(order_id)
        if tagged is not None and (version := body_version(tagged.body)) > sent:
            yield event("order", tagged.body, version)
            sent = version

    return watch(hub, watcher, changes)


def customer_stream(
    hub: StreamHub, watcher: Watcher, reads: OrderReads, customer_id: UUID, last_seen: int
) -> AsyncIterator[bytes]:
    """The customer's changes (watcher: customer_scope(customer_id))."""
    state = CustomerStreamState(last_seen)
    return watch(hub, watcher, lambda: state.changes(reads, customer_id))


class CustomerStreamState:
    """What one customer stream has sent: the version of each order, the last summary.

    Versions come from PostgreSQL, bodies through the caches, which a commit updates just
    after its rows: a body read in between is older than its row. Such a body is not sent
    (nor the summary after it): the commit's invalidation rings the stream just after, and
    the next read finds the new body."""

    def __init__(self, last_seen: int) -> None:
        self.last_seen = last_seen
        self.resumed = last_seen > 0
        self.sent: dict[UUID, int] = {}
        self.summary: bytes | None = None

    async def changes(self, reads: OrderReads, customer_id: UUID) -> AsyncIterator[bytes]:
        versions = await reads.order_versions(customer_id)
        total = sum(versions.values())
        if self.resumed and total <= self.last_seen:
            self.sent = dict(versions)  # resumed at the current state: the client has it all
        self.resumed = False
        behind = False
        for order_id, version in versions.items():
            if version > self.sent.get(order_id, 0):
                tagged = await reads.order(order_id)
                if tagged is None or body_version(tagged.body) < version:
                    behind = True
                    continue
                yield event("order", tagged.body)
                self.sent[order_id] = body_version(tagged.body)
        if not behind and (total > self.last_seen or self.summary is not None):
            summary = await reads.customer_summary(customer_id)
            if summary is not None and summary != self.summary:
                yield event("summary", summary, total)
                self.summary, self.last_seen = summary, total


def resume_point(last_event_id: str | None) -> int:
    """The `Last-Event-ID` a client sent, as a version (absent or unreadable: 0, the start)."""
    text = (last_event_id or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0
