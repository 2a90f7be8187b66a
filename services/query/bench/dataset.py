"""A realistic benchmark dataset, produced the way production produces it: events, folded.

Orders are spread over customers and 30 days; most are confirmed, many shipped, some
delivered or cancelled, so every status list has rows and versions run from 1 to 4.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from readside_core.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderEvent,
    OrderItem,
    OrderPayload,
    OrderShipped,
)
from readside_core.fold import fold_events
from readside_core.views import OrderView
from readside_testkit.orders import event

START = datetime(2024, 3, 1, tzinfo=UTC)


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _event(rng: random.Random, order_id: UUID, payload: OrderPayload, at: datetime) -> OrderEvent:
    return event(order_id, payload, at, _uuid(rng))


def order_events(rng: random.Random, customer_id: UUID) -> list[OrderEvent]:
    order_id = _uuid(rng)
    at = START + timedelta(seconds=rng.randrange(30 * 86400))
    items = tuple(
        OrderItem(
            product_id=_uuid(rng),
            sku=f"SKU-{rng.randrange(10_000):04d}",
            quantity=rng.randint(1, 5),
            unit_price=Decimal(rng.randrange(100, 50_000)) / 100,
        )
        for _ in range(rng.randint(1, 5))
    )
    total = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    created = OrderCreated(
        order_id=order_id,
        customer_id=customer_id,
        order_number=f"ORD-{order_id.hex[:12]}",
        items=items,
        total_amount=total,
        currency=rng.choice(["USD", "USD", "EUR", "GBP"]),
        created_at=at,
    )
    events = [_event(rng, order_id, created, at)]
    roll = rng.random()
    if roll < 0.05:
        cancel = OrderCancelled(order_id=order_id, reason="changed mind", cancelled_at=at)
        return [*events, _event(rng, order_id, cancel, at + timedelta(minutes=5))]
    if roll < 0.25:
        return events
    at += timedelta(minutes=rng.randrange(1, 120))
    events.append(_event(rng, order_id, OrderConfirmed(order_id=order_id, confirmed_at=at), at))
    if roll < 0.55:
        return events
    at += timedelta(hours=rng.randrange(1, 48))
    ship = OrderShipped(
        order_id=order_id,
        tracking_number=f"1Z{rng.randrange(10**12):012d}",
        carrier=rng.choice(["UPS", "DHL", "FedEx"]),
        shipped_at=at,
    )
    events.append(_event(rng, order_id, ship, at))
    if roll < 0.8:
        return events
    at += timedelta(days=rng.randrange(1, 5))
    events.append(_event(rng, order_id, OrderDelivered(order_id=order_id, delivered_at=at), at))
    return events


def generate(orders: int, customers: int, seed: int = 7) -> list[OrderView]:
    rng = random.Random(seed)
    customer_ids = [_uuid(rng) for _ in range(customers)]
    events: list[OrderEvent] = []
    for n in range(orders):
        events += order_events(rng, customer_ids[n % customers])
    views, _ = fold_events({}, events)
    return list(views.values())
