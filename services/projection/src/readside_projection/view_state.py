"""The views this consumer owns, in memory: what the next batch is folded on.

Kafka keys events by order id, so every event of an order arrives on one partition, and the
offsets are fenced (store.py): while this consumer holds its partitions, nobody else writes
their orders, and its own copy of their views is the truth. A batch therefore loads from
PostgreSQL only the orders it has never seen, and is folded on top of the plans still being
committed (the writer commits batch N while batch N+1 is folded).

The copy is emptied whenever it may be wrong: on every rebalance, and when a commit fails in
a way that drops what was folded (fenced offsets, a write conflict). It is bounded: past
`max_orders` the least recently used views are forgotten, except those of plans not yet
committed (forgetting one of them would make the next fold read an older row).

An order delivered or cancelled is done: nothing but a redelivered event follows, and a late
event is still applied exactly (the order is then loaded like any other not held). So its
view is forgotten as soon as it is committed, whatever the bound, and the room goes to the
orders still moving. Simulated over the benchmark's million events (docs/benchmarks.md), 50,000
views then need no lookup at all, where 50,000 without it needed 66,935.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from uuid import UUID

from readside_core.views import OrderStatus, OrderView

FINAL = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED})


class ViewState:
    def __init__(self, max_orders: int) -> None:
        self._views: OrderedDict[UUID, OrderView] = OrderedDict()
        self._numbers: dict[str, UUID] = {}
        self._final: set[UUID] = set()  # held views of orders in a final status
        self._max_orders = max_orders

    def __len__(self) -> int:
        return len(self._views)

    def known(self, order_ids: Iterable[UUID]) -> dict[UUID, OrderView]:
        """The views held for these orders (and marks them recently used)."""
        found: dict[UUID, OrderView] = {}
        views = self._views
        for order_id in order_ids:
            view = views.get(order_id)
            if view is not None:
                views.move_to_end(order_id)
                found[order_id] = view
        return found

    def owner_of(self, order_number: str) -> UUID | None:
        return self._numbers.get(order_number)

    def put(self, views: Mapping[UUID, OrderView]) -> None:
        for order_id, view in views.items():
            self._views[order_id] = view
            self._views.move_to_end(order_id)
            self._numbers[view.order_number] = order_id
            if view.status in FINAL:
                self._final.add(order_id)
            else:
                self._final.discard(order_id)

    def trim(self, pending: set[UUID]) -> None:
        """Forget the views of finished orders, then the least recently used views past the
        bound; never one in `pending`."""
        for order_id in self._final - pending:
            self._forget(order_id)
        excess = len(self._views) - self._max_orders
        if excess <= 0:
            return
        victims: list[UUID] = []
        for order_id in self._views:  # oldest first; stops after `excess` victims
            if order_id not in pending:
                victims.append(order_id)
                if len(victims) == excess:
                    break
        for order_id in victims:
            self._forget(order_id)

    def _forget(self, order_id: UUID) -> None:
        view = self._views.pop(order_id, None)
        if view is not None:
            self._numbers.pop(view.order_number, None)
            self._final.discard(order_id)

    def clear(self) -> None:
        self._views.clear()
        self._numbers.clear()
        self._final.clear()
