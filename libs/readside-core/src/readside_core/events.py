"""The wire contract: the seed's event envelope and its payloads, as strict msgspec types.

Decoding is two-stage: the envelope first (with the payload kept raw), then the payload by
`event_type` AND `event_version`: each version of a payload has its own wire type, and an
upcaster (a pure function registered beside it, in `PAYLOAD_VERSIONS`) lifts it to the current
shape the fold consumes. An unknown event type is not an error (forward compatibility); anything
that is not JSON or breaks the schema raises `InvalidEvent`, which the projection dead-letters; a
version newer than this code knows raises `UnsupportedEventVersion`, which is never applied as
an older one (the projection stops that partition until it is upgraded: docs/event-versions.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
# DECIMAL(12,2) in the read model: anything larger cannot be stored, so it is bad input.
MAX_AMOUNT: Final = Decimal("9999999999.99")
Text50 = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Text100 = Annotated[str, msgspec.Meta(max_length=100)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]  # ISO 3166-1 alpha-2


def _check_amount(field: str, value: Decimal) -> None:
    # msgspec turns a ValueError raised here into a ValidationError naming the struct.
    if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
        raise ValueError(f"{field} must be between 0 and {MAX_AMOUNT}, got {value}")


# --- OrderCreated: version 1 (the seed's), version 2 (address and product names) -------------


class OrderItemV1(msgspec.Struct, frozen=True):
    product_id: UUID
    sku: str
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    unit_price: Decimal

    def __post_init__(self) -> None:
        _check_amount("unit_price", self.unit_price)


class OrderItemV2(OrderItemV1, frozen=True):
    name: Text200  # the product's name as the customer saw it


class OrderItem(OrderItemV1, frozen=True, omit_defaults=True):
    """The current item: version 2's, with the name absent for items of version 1 (omitted,
    not null, so a version 1 order's `items` are exactly what they always were)."""

    name: Text200 | None = None


class ShippingAddress(msgspec.Struct, frozen=True, kw_only=True):
    recipient: Text200
    line1: Text200
    line2: Text200 | None = None
    city: Text100
    region: Text100 | None = None
    postal_code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    country: Country


class OrderCreatedV1(msgspec.Struct, frozen=True):
    order_id: UUID
    customer_id: UUID
    order_number: Text50
    items: tuple[OrderItemV1, ...]
    total_amount: Decimal
    currency: Currency
    created_at: UtcTime

    def __post_init__(self) -> None:
        _check_amount("total_amount", self.total_amount)


class OrderCreatedV2(msgspec.Struct, frozen=True):
    order_id: UUID
    customer_id: UUID
    order_number: Text50
    items: tuple[OrderItemV2, ...]
    total_amount: Decimal
    currency: Currency
    created_at: UtcTime
    shipping_address: ShippingAddress

    def __post_init__(self) -> None:
        _check_amount("total_amount", self.total_amount)


class OrderCreated(msgspec.Struct, frozen=True, kw_only=True):
    """The current OrderCreated, what the fold consumes: version 2's shape, with what version 1
    did not carry (the address, the product names) absent."""

    order_id: UUID
    customer_id: UUID
    order_number: str
    items: tuple[OrderItem, ...]
    total_amount: Decimal
    currency: str
    created_at: datetime
    shipping_address: ShippingAddress | None = None


def upcast_order_created_v1(v1: OrderCreatedV1) -> OrderCreated:
    """Version 1 had no address and no product names: the current shape without them."""
    items = tuple(OrderItem(i.product_id, i.sku, i.quantity, i.unit_price) for i in v1.items)
    return _created(v1, items, None)


def upcast_order_created_v2(v2: OrderCreatedV2) -> OrderCreated:
    """Version 2 is the current shape; only its types are stricter (every field present)."""
    items = tuple(
        OrderItem(i.product_id, i.sku, i.quantity, i.unit_price, i.name) for i in v2.items
    )
    return _created(v2, items, v2.shipping_address)


def _created(
    wire: OrderCreatedV1 | OrderCreatedV2,
    items: tuple[OrderItem, ...],
    shipping_address: ShippingAddress | None,
) -> OrderCreated:
    return OrderCreated(
        order_id=wire.order_id,
        customer_id=wire.customer_id,
        order_number=wire.order_number,
        items=items,
        total_amount=wire.total_amount,
        currency=wire.currency,
        created_at=wire.created_at,
        shipping_address=shipping_address,
    )


# --- the lifecycle events: version 1 only (the wire type is the current type) ----------------


class OrderConfirmed(msgspec.Struct, frozen=True):
    order_id: UUID
    confirmed_at: UtcTime


class OrderCancelled(msgspec.Struct, frozen=True):
    order_id: UUID
    reason: str
    cancelled_at: UtcTime


class OrderShipped(msgspec.Struct, frozen=True):
    order_id: UUID
    tracking_number: Text100
    carrier: Text100
    shipped_at: UtcTime


class OrderDelivered(msgspec.Struct, frozen=True):
    order_id: UUID
    delivered_at: UtcTime


OrderPayload = OrderCreated | OrderConfirmed | OrderCancelled | OrderShipped | OrderDelivered


@dataclass(frozen=True, slots=True)
class PayloadVersion:
    """One version of one event type's payload: its wire type (the JSON Schema is generated
    from it) and the upcaster that lifts it to the current shape."""

    event_type: str
    version: int
    wire_type: type[msgspec.Struct]
    upcast: Callable[[Any], OrderPayload]


def _same(payload: OrderPayload) -> OrderPayload:
    return payload  # the wire type of the only version is the current type


def _versions(*entries: PayloadVersion) -> dict[str, dict[int, PayloadVersion]]:
    registry: dict[str, dict[int, PayloadVersion]] = {}
    for entry in entries:
        registry.setdefault(entry.event_type, {})[entry.version] = entry
    return registry


PAYLOAD_VERSIONS: Final = _versions(
    PayloadVersion("OrderCreated", 1, OrderCreatedV1, upcast_order_created_v1),
    PayloadVersion("OrderCreated", 2, OrderCreatedV2, upcast_order_created_v2),
    PayloadVersion("OrderConfirmed", 1, OrderConfirmed, _same),
    PayloadVersion("OrderCancelled", 1, OrderCancelled, _same),
    PayloadVersion("OrderShipped", 1, OrderShipped, _same),
    PayloadVersion("OrderDelivered", 1, OrderDelivered, _same),
)


class EventMetadata(msgspec.Struct, frozen=True):
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    user_id: str | None = None


class RawEnvelope(msgspec.Struct, frozen=True):
    """The envelope as published; `payload` stays undecoded until the type is known."""

    event_id: UUID
    aggregate_id: UUID
    aggregate_type: str
    event_type: str
    event_version: int
    payload: msgspec.Raw
    timestamp: UtcTime
    metadata: EventMetadata = EventMetadata()
    sequence_number: int | None = None


class OrderEvent(msgspec.Struct, frozen=True):
    """A decoded, validated order event, upcast to the current payload: what the fold consumes."""

    event_id: UUID
    order_id: UUID
    event_type: str
    timestamp: datetime
    payload: OrderPayload
    event_version: int = 1  # the version it was published with


class UnknownEvent(msgspec.Struct, frozen=True):
    """A well-formed envelope of a type this version does not know: skipped and counted."""

    event_id: UUID
    event_type: str


class InvalidEvent(ValueError):
    """The message is not JSON or breaks the schema. `reason` says what and where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedEventVersion(Exception):
    """A known event type in a version newer than this code knows: it must not be applied as
    an older one, nor skipped (what follows it for the same order depends on it)."""

    def __init__(self, event_type: str, version: int, known: int) -> None:
        self.reason = (
            f"{event_type} event_version {version} is newer than this projection knows "
            f"(up to {known}): upgrade the projection"
        )
        super().__init__(self.reason)
        self.event_type = event_type
        self.version = version
        self.known = known


_envelope_decoder = msgspec.json.Decoder(RawEnvelope)
_payload_decoders = {
    (entry.event_type, entry.version): msgspec.json.Decoder(entry.wire_type)
    for versions in PAYLOAD_VERSIONS.values()
    for entry in versions.values()
}


def decode_event(data: bytes) -> OrderEvent | UnknownEvent:
    """Decode one Kafka message value, upcast to the current payload.

    Raises InvalidEvent on anything that is not the contract, UnsupportedEventVersion on a
    version of a known type newer than the newest registered."""
    try:
        envelope = _envelope_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"envelope: {exc}") from None
    versions = PAYLOAD_VERSIONS.get(envelope.event_type)
    if versions is None:
        return UnknownEvent(event_id=envelope.event_id, event_type=envelope.event_type)
    entry = versions.get(envelope.event_version)
    if entry is None:
        newest = max(versions)
        if envelope.event_version > newest:
            raise UnsupportedEventVersion(envelope.event_type, envelope.event_version, newest)
        raise InvalidEvent(
            f"{envelope.event_type} has no event_version {envelope.event_version} "
            f"(versions: {', '.join(map(str, sorted(versions)))})"
        )
    try:
        wire = _payload_decoders[entry.event_type, entry.version].decode(envelope.payload)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"{envelope.event_type} v{entry.version} payload: {exc}") from None
    payload = entry.upcast(wire)
    if payload.order_id != envelope.aggregate_id:
        raise InvalidEvent(
            f"payload.order_id {payload.order_id} differs from aggregate_id {envelope.aggregate_id}"
        )
    return OrderEvent(
        event_id=envelope.event_id,
        order_id=envelope.aggregate_id,
        event_type=envelope.event_type,
        timestamp=envelope.timestamp,
        payload=payload,
        event_version=entry.version,
    )
