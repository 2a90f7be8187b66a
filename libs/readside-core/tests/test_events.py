"""Decoding the wire contract: what is accepted, what is skipped, what is rejected and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from readside_core.events import InvalidEvent, OrderEvent, UnknownEvent, decode_event
from readside_core.fixtures import read_messages

pytestmark = pytest.mark.unit


@pytest.fixture
def created(sample_events_path: Path) -> dict[str, Any]:
    _, value = next(read_messages(sample_events_path))
    envelope: dict[str, Any] = json.loads(value)
    return envelope


def _encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()


def test_every_sample_event_decodes(sample_events_path: Path) -> None:
    for _, value in read_messages(sample_events_path):
        assert isinstance(decode_event(value), OrderEvent)


def test_an_unknown_event_type_is_skipped_not_rejected(created: dict[str, Any]) -> None:
    created["event_type"] = "OrderGiftWrapped"
    created["payload"] = {"order_id": created["aggregate_id"], "paper": "red"}
    decoded = decode_event(_encode(created))
    assert isinstance(decoded, UnknownEvent)
    assert decoded.event_type == "OrderGiftWrapped"


def test_unknown_extra_fields_are_tolerated(created: dict[str, Any]) -> None:
    created["payload"]["gift"] = True
    created["extra"] = 1
    assert isinstance(decode_event(_encode(created)), OrderEvent)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("event_id"), "event_id"),
        (lambda e: e.update(event_id="not-a-uuid"), "event_id"),
        (lambda e: e.update(timestamp="yesterday"), "timestamp"),
        (lambda e: e["payload"].update(total_amount=-1), "total_amount"),
        (lambda e: e["payload"].update(total_amount=1e12), "total_amount"),
        (lambda e: e["payload"].update(currency="dollars"), "currency"),
        (lambda e: e["payload"].update(order_number="X" * 51), "order_number"),
        (lambda e: e["payload"].update(created_at="2024-03-01T09:00:00"), "created_at"),
        (lambda e: e["payload"]["items"][0].update(quantity=0), "quantity"),
        (lambda e: e["payload"].update(order_id="6f1c2d1e-0000-4000-8000-000000000000"), "differs"),
    ],
)
def test_schema_breaks_are_rejected_with_a_reason(
    created: dict[str, Any], mutate: Any, message: str
) -> None:
    mutate(created)
    with pytest.raises(InvalidEvent, match=message):
        decode_event(_encode(created))


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"event_id": 1}', b"\xff\xfe"])
def test_non_json_and_wrong_shapes_are_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode_event(raw)
