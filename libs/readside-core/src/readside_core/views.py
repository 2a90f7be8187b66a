"""Read models as plain values, and their JSON shapes on the HTTP API.

`OrderView` is one row of `order_views`; `CustomerSummary` one row of `customer_summaries`.
The JSON shapes are the seed's: timestamps as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, amounts as
JSON numbers (Decimal inside, never float).
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec


class OrderStatus(enum.StrEnum):
    CREATED = "CREATED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    order_id: UUID
    customer_id: UUID
    order_number: str
    status: OrderStatus
    total_amount: Decimal
    currency: str
    items: list[dict[str, Any]]
    shipping_address: dict[str, Any] | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int
    # Ids of the events applied to this order, in order, as one run of 16-byte UUIDs: what
    # makes a redelivered or re-published event a no-op. An order sees a handful of events;
    # bytes hold them in a fifth of the memory of UUID objects (the projection keeps many views).
    event_ids: bytes = b""

    def applied(self, event_id: UUID) -> bool:
        """Whether this event was applied to the order."""
        wanted, ids = event_id.bytes, self.event_ids
        at = ids.find(wanted)
        while at > 0 and at % 16:  # a match straddling two ids is no match
            at = ids.find(wanted, at + 1)
        return at >= 0

    def event_id_list(self) -> list[UUID]:
        ids = self.event_ids
        return [UUID(bytes=ids[at : at + 16]) for at in range(0, len(ids), 16)]


class CustomerSummary(msgspec.Struct, frozen=True, kw_only=True):
    customer_id: UUID
    order_count: int
    orders_by_status: dict[str, int]
    # Amount spent per currency: every order except cancelled ones.
    spent_by_currency: dict[str, Decimal]
    first_order_at: datetime
    last_order_at: datetime


_UTC_OFFSET = timedelta(0)


def format_time(value: datetime) -> str:
    """The seed's wire format for times: always UTC, always microseconds, a trailing Z."""
    if value.utcoffset() != _UTC_OFFSET:  # another zone, or naive (taken as local time)
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:26] + "Z"


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def parse_time(value: str) -> datetime:
    """An RFC 3339 time with a timezone, as UTC; ValueError says what is wrong with it.

    The one parser of times given by users: query parameters, `reset --timestamp`, a
    ProjectionReplay's `from.timestamp`.
    """
    text = value.strip()
    matched = _RFC3339.fullmatch(text)
    if matched is not None and matched["zone"] is None:
        raise ValueError(f"{value!r} has no timezone: add Z or an offset like +02:00")
    try:
        if matched is None:
            raise ValueError
        # fromisoformat takes at most 6 fraction digits: nanoseconds are cut to micro.
        text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text.upper().replace(" ", "T"))
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 time like 2024-03-01T09:00:00Z") from None


def order_to_json(view: OrderView) -> dict[str, Any]:
    """The seed's order response body (the fields of fixtures/sample.expected.json), to be
    encoded by msgspec (`json_encoder`): UUIDs and the status are encoded as their text there,
    not formatted here (the projection writes every changed order through to the cache)."""
    return {
        "order_id": view.order_id,
        "customer_id": view.customer_id,
        "order_number": view.order_number,
        "status": view.status,
        "total_amount": view.total_amount,
        "currency": view.currency,
        "items": view.items,
        "shipping_address": view.shipping_address,
        "tracking_number": view.tracking_number,
        "carrier": view.carrier,
        "created_at": format_time(view.created_at),
        "updated_at": format_time(view.updated_at),
        "version": view.version,
    }


def summary_to_json(summary: CustomerSummary) -> dict[str, Any]:
    return {
        "customer_id": str(summary.customer_id),
        "order_count": summary.order_count,
        "orders_by_status": {
            s.value: summary.orders_by_status.get(s.value, 0) for s in OrderStatus
        },
        "spent_by_currency": dict(sorted(summary.spent_by_currency.items())),
        "first_order_at": format_time(summary.first_order_at),
        "last_order_at": format_time(summary.last_order_at),
    }


json_encoder = msgspec.json.Encoder(decimal_format="number")


def summarize_customer(orders: list[OrderView]) -> CustomerSummary:
    """The per-customer summary as a pure function of the customer's orders (at least one)."""
    by_status: dict[str, int] = {}
    spent: dict[str, Decimal] = {}
    for order in orders:
        by_status[order.status.value] = by_status.get(order.status.value, 0) + 1
        if order.status is not OrderStatus.CANCELLED:
            spent[order.currency] = spent.get(order.currency, Decimal("0")) + order.total_amount
    return CustomerSummary(
        customer_id=orders[0].customer_id,
        order_count=len(orders),
        orders_by_status=by_status,
        spent_by_currency=spent,
        first_order_at=min(o.created_at for o in orders),
        last_order_at=max(o.created_at for o in orders),
    )
