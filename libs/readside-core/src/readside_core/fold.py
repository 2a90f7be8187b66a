"""The pure fold: (current view or nothing, event) -> outcome and new view.

DESIGN.md's semantics: status is set by the matching event; updated_at is the time carried by
the latest applied event; version counts the events applied; an event id seen before changes
nothing. No I/O here: the projection loads the current views, folds a batch, writes the result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

import msgspec

from readside_core.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderEvent,
    OrderShipped,
)
from readside_core.views import OrderStatus, OrderView

_CENT = Decimal("0.01")


class FoldOutcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event id was applied to the order already
    MISSING_ORDER = "missing_order"  # an update for an order never created
    ALREADY_CREATED = "already_created"  # a second OrderCreated, with a new event id


@dataclass(frozen=True, slots=True)
class FoldResult:
    outcome: FoldOutcome
    view: OrderView | None  # the view after the event (unchanged unless APPLIED)


def fold_order_event(view: OrderView | None, event: OrderEvent) -> FoldResult:
    """Apply one event to one order's view."""
    if view is not None and view.applied(event.event_id):
        return FoldResult(FoldOutcome.DUPLICATE, view)
    payload = event.payload
    if isinstance(payload, OrderCreated):
        if view is not None:
            return FoldResult(FoldOutcome.ALREADY_CREATED, view)
        return FoldResult(FoldOutcome.APPLIED, _created(event.event_id, payload))
    if view is None:
        return FoldResult(FoldOutcome.MISSING_ORDER, None)
    return FoldResult(FoldOutcome.APPLIED, _updated(view, event.event_id, payload))


def _created(event_id: UUID, created: OrderCreated) -> OrderView:
    return OrderView(
        order_id=created.order_id,
        customer_id=created.customer_id,
        order_number=created.order_number,
        status=OrderStatus.CREATED,
        total_amount=created.total_amount.quantize(_CENT, ROUND_HALF_UP),
        currency=created.currency,
        items=list(msgspec.to_builtins(created.items, builtin_types=(Decimal,))),
        shipping_address=(
            None
            if created.shipping_address is None
            else msgspec.to_builtins(created.shipping_address)
        ),
        created_at=created.created_at,
        updated_at=created.created_at,
        version=1,
        event_ids=event_id.bytes,
    )


def _updated(
    view: OrderView,
    event_id: UUID,
    payload: OrderConfirmed | OrderCancelled | OrderShipped | OrderDelivered,
) -> OrderView:
    status: OrderStatus
    at: datetime
    changes: dict[str, object] = {}
    match payload:
        case OrderConfirmed(confirmed_at=at):
            status = OrderStatus.CONFIRMED
        case OrderCancelled(cancelled_at=at):
            status = OrderStatus.CANCELLED
        case OrderShipped(shipped_at=at, tracking_number=tracking, carrier=carrier):
            status = OrderStatus.SHIPPED
            changes = {"tracking_number": tracking, "carrier": carrier}
        case OrderDelivered(delivered_at=at):
            status = OrderStatus.DELIVERED
    return msgspec.structs.replace(
        view,
        status=status,
        updated_at=at,
        version=view.version + 1,
        event_ids=view.event_ids + event_id.bytes,
        **changes,
    )


def fold_events(
    views: dict[UUID, OrderView], events: list[OrderEvent]
) -> tuple[dict[UUID, OrderView], list[tuple[OrderEvent, FoldOutcome]]]:
    """Fold events in order over a dict of views; return the changed views and each outcome."""
    changed: dict[UUID, OrderView] = {}
    outcomes: list[tuple[OrderEvent, FoldOutcome]] = []
    for event in events:
        current = changed.get(event.order_id) or views.get(event.order_id)
        result = fold_order_event(current, event)
        outcomes.append((event, result.outcome))
        if result.outcome is FoldOutcome.APPLIED and result.view is not None:
            changed[event.order_id] = result.view
    return changed, outcomes
