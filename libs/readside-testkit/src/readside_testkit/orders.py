"""Orders built through the pure fold, as the projection would build them: `created(...)`,
then `confirmed`, `shipped`, `delivered` or `cancelled`; `as_json` for comparing with what
the API answers."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

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
from readside_core.fold import FoldOutcome, fold_order_event
from readside_core.views import OrderView, json_encoder


def event(
    order_id: UUID, payload: OrderPayload, at: datetime, event_id: UUID | None = None
) -> OrderEvent:
    """The envelope of `payload` as a producer sends it (a new event id unless given)."""
    return OrderEvent(
        event_id=uuid4() if event_id is None else event_id,
        order_id=order_id,
        event_type=type(payload).__name__,
        timestamp=at,
        payload=payload,
    )


def _apply(
    view: OrderView | None, order_id: UUID, payload: OrderPayload, at: datetime
) -> OrderView:
    result = fold_order_event(view, event(order_id, payload, at))
    assert result.outcome is FoldOutcome.APPLIED, result.outcome
    assert result.view is not None
    return result.view


def created(
    customer_id: UUID, at: datetime, total: str = "100.00", currency: str = "USD"
) -> OrderView:
    order_id = uuid4()
    item = OrderItem(product_id=uuid4(), sku="SKU-1", quantity=1, unit_price=Decimal(total))
    payload = OrderCreated(
        order_id=order_id,
        customer_id=customer_id,
        order_number=f"ORD-{order_id.hex[:12]}",
        items=(item,),
        total_amount=Decimal(total),
        currency=currency,
        created_at=at,
    )
    return _apply(None, order_id, payload, at)


def confirmed(view: OrderView, at: datetime) -> OrderView:
    return _apply(view, view.order_id, OrderConfirmed(order_id=view.order_id, confirmed_at=at), at)


def cancelled(view: OrderView, at: datetime) -> OrderView:
    payload = OrderCancelled(order_id=view.order_id, reason="test", cancelled_at=at)
    return _apply(view, view.order_id, payload, at)


def shipped(
    view: OrderView, at: datetime, tracking: str = "TRK-1", carrier: str = "UPS"
) -> OrderView:
    payload = OrderShipped(
        order_id=view.order_id, tracking_number=tracking, carrier=carrier, shipped_at=at
    )
    return _apply(view, view.order_id, payload, at)


def delivered(view: OrderView, at: datetime) -> OrderView:
    return _apply(view, view.order_id, OrderDelivered(order_id=view.order_id, delivered_at=at), at)


def as_json(value: object) -> object:
    """What a client parses from our JSON: for comparing with API responses."""
    return json.loads(json_encoder.encode(value))
