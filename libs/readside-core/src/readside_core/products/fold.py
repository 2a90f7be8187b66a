"""The product fold, pure: what one order adds to its products, and the oracle.

An order adds to each product in its items (a product listed twice counts once, with the
quantities summed): its units and one order under the order's status, its revenue
(quantity x unit_price) under the order's currency unless it is cancelled (the currency is
listed with 0 then), its created_at as first and last ordered at, and its version (the events
applied to it) to the product's version. A product row is the sum over its orders, so a batch
adds `contribution(after) - contribution(before)` for every order it changed: a cancellation
moves the order's units from its old status to CANCELLED and its revenue out; an event that
changed nothing (a duplicate) is not in the batch at all. `summarize_products` sums the
contributions of a set of orders: the oracle the tests compare the stored rows with.

The sku shown is the one of the product's earliest order (ties: the smallest sku), so the
result does not depend on the order in which concurrent transactions add to the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any
from uuid import UUID

import msgspec

from readside_core.views import OrderStatus, OrderView, format_time

STATUSES = tuple(OrderStatus)
LIVE = tuple(s for s in OrderStatus if s is not OrderStatus.CANCELLED)
_ZERO = Decimal("0")


def product_scope(product_id: UUID | str) -> str:
    """The cache scope of one product's entry."""
    return f"product:{product_id}"


def products_scope() -> str:
    """The cache scope of the product lists (every batch touching a product bumps it)."""
    return "products"


class ProductView(msgspec.Struct, frozen=True, kw_only=True):
    product_id: UUID
    sku: str
    units_by_status: dict[str, int]  # every status, CANCELLED included
    orders_by_status: dict[str, int]
    revenue_by_currency: dict[str, Decimal]  # non-cancelled orders only
    first_ordered_at: datetime
    last_ordered_at: datetime
    version: int

    @property
    def units(self) -> int:
        return sum(self.units_by_status.get(s.value, 0) for s in LIVE)

    @property
    def orders(self) -> int:
        return sum(self.orders_by_status.get(s.value, 0) for s in LIVE)


@dataclass(slots=True)
class ProductDelta:
    """What a batch adds to one product row (counts may be negative)."""

    product_id: UUID
    sku: str
    first_ordered_at: datetime
    last_ordered_at: datetime
    units: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)
    version: int = 0

    def add(self, other: ProductDelta, sign: int = 1) -> None:
        if (other.first_ordered_at, other.sku) < (self.first_ordered_at, self.sku):
            self.first_ordered_at, self.sku = other.first_ordered_at, other.sku
        self.last_ordered_at = max(self.last_ordered_at, other.last_ordered_at)
        for status, n in other.units.items():
            self.units[status] = self.units.get(status, 0) + sign * n
        for status, n in other.orders.items():
            self.orders[status] = self.orders.get(status, 0) + sign * n
        for currency, amount in other.revenue.items():
            self.revenue[currency] = self.revenue.get(currency, _ZERO) + sign * amount
        self.version += sign * other.version


def contribution(order: OrderView) -> dict[UUID, ProductDelta]:
    """What one order adds to each of its products."""
    status = order.status.value
    live = order.status is not OrderStatus.CANCELLED
    found: dict[UUID, ProductDelta] = {}
    for item in order.items:
        pid = _uuid(item["product_id"])
        quantity = int(item["quantity"])
        amount = quantity * Decimal(item["unit_price"]) if live else _ZERO
        delta = found.get(pid)
        if delta is None:
            found[pid] = ProductDelta(
                pid, str(item["sku"]), order.created_at, order.created_at,
                units={status: quantity}, orders={status: 1},
                revenue={order.currency: amount}, version=order.version,
            )  # fmt: skip
        else:
            delta.sku = min(delta.sku, str(item["sku"]))
            delta.units[status] += quantity
            delta.revenue[order.currency] += amount
    return found


ProductDeltas = dict[UUID, ProductDelta]


def fold_changes(changes: Iterable[tuple[OrderView | None, OrderView]]) -> ProductDeltas:
    """What a batch adds to each product: the sum of `contribution(after) -
    contribution(before)` over its changed orders. Done when the batch is folded, off the
    commit; batches merged into one transaction add up (`merge_deltas`).

    Computed in one pass per order: the fold never changes an order's items, currency or
    created_at, so before and after share their lines and differ in status and version
    only; the revenue moves only when the order starts or stops counting (created,
    cancelled), so the lines' amounts are computed only then (the oracle,
    `summarize_products`, sums `contribution` instead)."""
    total: dict[str, ProductDelta] = {}
    for before, after in changes:
        live_after = after.status is not OrderStatus.CANCELLED
        live_before = before is not None and before.status is not OrderStatus.CANCELLED
        priced = live_after != live_before
        for key, (sku, quantity, amount) in _lines(after, priced).items():
            delta = total.get(key)
            if delta is None:
                delta = total[key] = ProductDelta(
                    _uuid(key), sku, after.created_at, after.created_at
                )
            elif (after.created_at, sku) < (delta.first_ordered_at, delta.sku):
                delta.first_ordered_at, delta.sku = after.created_at, sku
            if after.created_at > delta.last_ordered_at:
                delta.last_ordered_at = after.created_at
            _move(delta, before, after, quantity)
            revenue, currency = delta.revenue, after.currency
            moved = amount if live_after else -amount
            if moved or currency not in revenue:
                revenue[currency] = revenue.get(currency, _ZERO) + moved
    return {delta.product_id: delta for delta in total.values()}


def _lines(order: OrderView, priced: bool) -> dict[str, tuple[str, int, Decimal]]:
    """Per product id (as written in the items): smallest sku, quantity, and quantity x
    price when `priced` (else 0)."""
    lines: dict[str, tuple[str, int, Decimal]] = {}
    for item in order.items:
        key = str(item["product_id"])
        quantity = int(item["quantity"])
        amount = quantity * Decimal(item["unit_price"]) if priced else _ZERO
        seen = lines.get(key)
        if seen is not None:
            sku = min(seen[0], str(item["sku"]))
            lines[key] = (sku, seen[1] + quantity, seen[2] + amount)
        else:
            lines[key] = (str(item["sku"]), quantity, amount)
    return lines


def _move(delta: ProductDelta, before: OrderView | None, after: OrderView, quantity: int) -> None:
    """The order's units and its one order from its status before to its status after."""
    units, orders = delta.units, delta.orders
    status: str = after.status  # the member, a str: no Enum.value lookup on the hot path
    units[status] = units.get(status, 0) + quantity
    orders[status] = orders.get(status, 0) + 1
    delta.version += after.version
    if before is not None:
        status = before.status
        units[status] = units.get(status, 0) - quantity
        orders[status] = orders.get(status, 0) - 1
        delta.version -= before.version


def merge_deltas(into: ProductDeltas, later: ProductDeltas) -> ProductDeltas:
    """A later batch's deltas (folded on top of `into`'s orders) added to `into`."""
    for pid, delta in later.items():
        _accumulate(into, pid, delta, 1)
    return into


def batch_deltas(changes: Iterable[tuple[OrderView | None, OrderView]]) -> list[ProductDelta]:
    """`fold_changes` by product id (the order in which the statement locks the rows:
    concurrent members never deadlock)."""
    return sorted_deltas(fold_changes(changes))


_uuid_order = attrgetter("int")  # UUID order without UUID.__lt__ in Python


def sorted_deltas(deltas: ProductDeltas) -> list[ProductDelta]:
    return [deltas[pid] for pid in sorted(deltas, key=_uuid_order)]


def _accumulate(total: ProductDeltas, pid: UUID, delta: ProductDelta, sign: int) -> None:
    current = total.get(pid)
    if current is None:
        current = total[pid] = ProductDelta(
            pid, delta.sku, delta.first_ordered_at, delta.last_ordered_at
        )
    current.add(delta, sign)


def summarize_products(orders: Iterable[OrderView]) -> dict[UUID, ProductView]:
    """The oracle: every product row as the pure sum of the orders' contributions."""
    total: ProductDeltas = {}
    for order in orders:
        for pid, delta in contribution(order).items():
            _accumulate(total, pid, delta, 1)
    return {pid: view_of(total[pid]) for pid in sorted(total)}


def view_of(delta: ProductDelta) -> ProductView:
    """A delta summed from nothing (a whole product) as its view."""
    return ProductView(
        product_id=delta.product_id,
        sku=delta.sku,
        units_by_status={s.value: delta.units.get(s.value, 0) for s in STATUSES},
        orders_by_status={s.value: delta.orders.get(s.value, 0) for s in STATUSES},
        revenue_by_currency=dict(sorted(delta.revenue.items())),
        first_ordered_at=delta.first_ordered_at,
        last_ordered_at=delta.last_ordered_at,
        version=delta.version,
    )


def scopes_of(folded: ProductDeltas) -> set[str]:
    """The cache scopes a batch's deltas touch: each product's entry, and the lists."""
    return {product_scope(pid) for pid in folded} | {products_scope()}


def product_to_json(view: ProductView) -> dict[str, Any]:
    return {
        "product_id": str(view.product_id),
        "sku": view.sku,
        "units": view.units,
        "orders": view.orders,
        "units_by_status": view.units_by_status,
        "orders_by_status": view.orders_by_status,
        "revenue_by_currency": view.revenue_by_currency,
        "first_ordered_at": format_time(view.first_ordered_at),
        "last_ordered_at": format_time(view.last_ordered_at),
        "version": view.version,
    }


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
