"""The wire contract: the seed's event envelope and its five payloads, as strict msgspec types.

Decoding is two-stage: the envelope first (with the payload kept raw), then the payload by
`event_type`. An unknown event type is not an error (forward compatibility); anything that is
not JSON or breaks the schema raises `InvalidEvent`, which the projection dead-letters.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final
from uuid import UUID

import msgspec

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
# DECIMAL(12,2) in the read model: anything larger cannot be stored, so it is bad input.
MAX_AMOUNT: Final = Decimal("9999999999.99")
Text50 = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Text100 = Annotated[str, msgspec.Meta(max_length=100)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]


def _check_amount(field: str, value: Decimal) -> None:
    # msgspec turns a ValueError raised here into a ValidationError naming the struct.
    if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
        raise ValueError(f"{field} must be between 0 and {MAX_AMOUNT}, got {value}")


class OrderItem(msgspec.Struct, frozen=True):
    product_id: UUID
    sku: str
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    unit_price: Decimal

    def __post_init__(self) -> None:
        _check_amount("unit_price", self.unit_price)


class OrderCreated(msgspec.Struct, frozen=True, tag=True):
    order_id: UUID
    customer_id: UUID
    order_number: Text50
    items: tuple[OrderItem, ...]
    total_amount: Decimal
    currency: Currency
    created_at: UtcTime

    def __post_init__(self) -> None:
        _check_amount("total_amount", self.total_amount)


class OrderConfirmed(msgspec.Struct, frozen=True, tag=True):
    order_id: UUID
    confirmed_at: UtcTime


class OrderCancelled(msgspec.Struct, frozen=True, tag=True):
    order_id: UUID
    reason: str
    cancelled_at: UtcTime


class OrderShipped(msgspec.Struct, frozen=True, tag=True):
    order_id: UUID
    tracking_number: Text100
    carrier: Text100
    shipped_at: UtcTime


class OrderDelivered(msgspec.Struct, frozen=True, tag=True):
    order_id: UUID
    delivered_at: UtcTime


OrderPayload = OrderCreated | OrderConfirmed | OrderCancelled | OrderShipped | OrderDelivered


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
    """A decoded, validated order event: what the fold consumes."""

    event_id: UUID
    order_id: UUID
    event_type: str
    timestamp: datetime
    payload: OrderPayload


class UnknownEvent(msgspec.Struct, frozen=True):
    """A well-formed envelope of a type this version does not know: skipped and counted."""

    event_id: UUID
    event_type: str


class InvalidEvent(ValueError):
    """The message is not JSON or breaks the schema. `reason` says what and where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


PAYLOAD_TYPES: Final[dict[str, type[OrderPayload]]] = {
    cls.__name__: cls
    for cls in (OrderCreated, OrderConfirmed, OrderCancelled, OrderShipped, OrderDelivered)
}
_envelope_decoder = msgspec.json.Decoder(RawEnvelope)
_payload_decoders = {name: msgspec.json.Decoder(cls) for name, cls in PAYLOAD_TYPES.items()}


def decode_event(data: bytes) -> OrderEvent | UnknownEvent:
    """Decode one Kafka message value. Raises InvalidEvent on anything that is not the contract."""
    try:
        envelope = _envelope_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"envelope: {exc}") from None
    decoder = _payload_decoders.get(envelope.event_type)
    if decoder is None:
        return UnknownEvent(event_id=envelope.event_id, event_type=envelope.event_type)
    try:
        payload = decoder.decode(envelope.payload)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"{envelope.event_type} payload: {exc}") from None
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
    )
