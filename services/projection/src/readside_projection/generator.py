"""Realistic order lifecycles in the seed's wire format, for load, tests and benchmarks.

Each order is created, then mostly confirmed; a confirmed order is shipped and delivered, or
cancelled. Events of all orders interleave by time, one order's events stay in order, and
`duplicate_rate` re-publishes some events (same event id) a little later, as a producer
retry would. Items come from a catalog of products (`products` of them, a few selling far more
than the rest; an order may list a product twice). Deterministic for a given seed.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from readside_core.views import format_time, json_encoder

EPOCH = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
CARRIERS = ("UPS", "FedEx", "DHL", "USPS")
CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _envelope(
    rng: random.Random, order_id: str, event_type: str, at: datetime, payload: dict[str, Any]
) -> dict[str, Any]:
    correlation = _uuid(rng)
    return {
        "event_id": _uuid(rng),
        "aggregate_id": order_id,
        "aggregate_type": "Order",
        "event_type": event_type,
        "event_version": 1,
        "payload": {"order_id": order_id, **payload},
        "metadata": {"correlation_id": correlation, "causation_id": correlation, "user_id": None},
        "timestamp": format_time(at),
        "sequence_number": None,
    }


Catalog = list[tuple[str, str]]  # (product_id, sku)


def _product(rng: random.Random, catalog: Catalog) -> tuple[str, str]:
    return catalog[int(len(catalog) * rng.random() ** 2)]  # skewed: top sellers exist


def _created_payload(
    rng: random.Random, order_id: str, created: datetime, customers: list[str], catalog: Catalog
) -> dict[str, Any]:
    lines = [(rng.randint(1, 5), round(rng.uniform(5, 250), 2)) for _ in range(rng.randint(1, 4))]
    items = [
        {"product_id": pid, "sku": sku, "quantity": quantity, "unit_price": price}
        for (pid, sku), (quantity, price) in ((_product(rng, catalog), line) for line in lines)
    ]
    return {
        "customer_id": rng.choice(customers),
        "order_number": f"ORD-{order_id.replace('-', '')[:12]}",
        "items": items,
        "total_amount": round(sum(q * p for q, p in lines), 2),
        "currency": rng.choice(CURRENCIES),
        "created_at": format_time(created),
    }


def _lifecycle(
    rng: random.Random, created: datetime, customers: list[str], catalog: Catalog
) -> list[tuple[datetime, dict[str, Any]]]:
    order_id = _uuid(rng)
    events: list[tuple[datetime, dict[str, Any]]] = []

    def happen(event_type: str, at: datetime, payload: dict[str, Any]) -> None:
        events.append((at, _envelope(rng, order_id, event_type, at, payload)))

    happen("OrderCreated", created, _created_payload(rng, order_id, created, customers, catalog))
    at = created + timedelta(seconds=rng.randint(30, 3600))
    if rng.random() < 0.05:
        happen(
            "OrderCancelled", at, {"reason": "customer request", "cancelled_at": format_time(at)}
        )
        return events
    happen("OrderConfirmed", at, {"confirmed_at": format_time(at)})
    at += timedelta(seconds=rng.randint(600, 86400))
    if rng.random() < 0.08:
        happen("OrderCancelled", at, {"reason": "out of stock", "cancelled_at": format_time(at)})
        return events
    if rng.random() < 0.3:
        return events  # still waiting to ship
    happen(
        "OrderShipped",
        at,
        {
            "tracking_number": f"TRK{rng.randint(10**9, 10**10 - 1)}",
            "carrier": rng.choice(CARRIERS),
            "shipped_at": format_time(at),
        },
    )
    at += timedelta(days=rng.randint(1, 5))
    if rng.random() < 0.7:
        happen("OrderDelivered", at, {"delivered_at": format_time(at)})
    return events


def generate(
    orders: int,
    *,
    seed: int = 1,
    duplicate_rate: float = 0.0,
    customers: int | None = None,
    products: int = 1000,
) -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, value) messages for `orders` lifecycles, interleaved by event time."""
    rng = random.Random(seed)
    customer_ids = [_uuid(rng) for _ in range(customers or max(orders // 5, 1))]
    catalog = [(_uuid(rng), f"SKU-{n:05d}") for n in range(max(products, 1))]
    pending: list[tuple[datetime, int, dict[str, Any]]] = []
    tie = 0
    for n in range(orders):
        for at, envelope in _lifecycle(
            rng, EPOCH + timedelta(seconds=n * 7), customer_ids, catalog
        ):
            tie += 1
            heapq.heappush(pending, (at, tie, envelope))
    recent: list[tuple[bytes, bytes]] = []
    while pending:
        _, _, envelope = heapq.heappop(pending)
        message = (envelope["aggregate_id"].encode(), json_encoder.encode(envelope))
        yield message
        recent = [*recent[-999:], message]
        if duplicate_rate and rng.random() < duplicate_rate:
            yield rng.choice(recent)  # a retry re-publishes an event seen a little earlier
