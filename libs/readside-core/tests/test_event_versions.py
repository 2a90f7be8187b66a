"""event_version selects the payload schema; upcasters lift old versions; newer ones are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from readside_core.events import (
    PAYLOAD_VERSIONS,
    InvalidEvent,
    OrderCreated,
    OrderCreatedV1,
    OrderCreatedV2,
    OrderEvent,
    UnknownEvent,
    UnsupportedEventVersion,
    decode_event,
    upcast_order_created_v1,
    upcast_order_created_v2,
)
from readside_core.fixtures import read_messages
from readside_core.fold import fold_events
from readside_core.views import json_encoder, order_to_json

pytestmark = pytest.mark.unit


def _envelopes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(value) for _, value in read_messages(path)]


def _created(path: Path, version: int) -> dict[str, Any]:
    return next(
        e
        for e in _envelopes(path)
        if e["event_type"] == "OrderCreated" and e["event_version"] == version
    )


def _encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()


def test_the_fixture_mixes_both_versions_and_folds_to_the_expected_bodies(
    event_versions_path: Path, event_versions_expected: dict[str, Any]
) -> None:
    decoded = [decode_event(value) for _, value in read_messages(event_versions_path)]
    events = [e for e in decoded if isinstance(e, OrderEvent)]
    assert len(events) == len(decoded)
    assert {e.event_version for e in events if e.event_type == "OrderCreated"} == {1, 2}
    views, _ = fold_events({}, events)
    bodies = {str(k): json.loads(json_encoder.encode(order_to_json(v))) for k, v in views.items()}
    assert bodies == event_versions_expected


def test_version_1_is_upcast_without_address_or_names(event_versions_path: Path) -> None:
    event = decode_event(_encode(_created(event_versions_path, 1)))
    assert isinstance(event, OrderEvent)
    assert isinstance(event.payload, OrderCreated)
    assert event.payload.shipping_address is None
    assert all(item.name is None for item in event.payload.items)
    folded, _ = fold_events({}, [event])
    # A version 1 order's items keep exactly the seed's keys: no "name": null appears.
    items = next(iter(folded.values())).items
    assert all(set(item) == {"product_id", "sku", "quantity", "unit_price"} for item in items)


def test_version_2_carries_the_address_and_the_product_names(event_versions_path: Path) -> None:
    wire = _created(event_versions_path, 2)
    event = decode_event(_encode(wire))
    assert isinstance(event, OrderEvent)
    assert isinstance(event.payload, OrderCreated)
    assert event.payload.shipping_address is not None
    assert event.payload.shipping_address.city == wire["payload"]["shipping_address"]["city"]
    assert [i.name for i in event.payload.items] == [i["name"] for i in wire["payload"]["items"]]


def test_upcasters_are_pure_and_keep_every_shared_field(event_versions_path: Path) -> None:
    import msgspec

    v1 = msgspec.json.decode(
        json.dumps(_created(event_versions_path, 1)["payload"]), type=OrderCreatedV1
    )
    v2 = msgspec.json.decode(
        json.dumps(_created(event_versions_path, 2)["payload"]), type=OrderCreatedV2
    )
    assert upcast_order_created_v1(v1) == upcast_order_created_v1(v1)
    for wire, current in ((v1, upcast_order_created_v1(v1)), (v2, upcast_order_created_v2(v2))):
        for field in ("order_id", "customer_id", "order_number", "total_amount", "created_at"):
            assert getattr(current, field) == getattr(wire, field)
        assert [(i.sku, i.quantity, i.unit_price) for i in current.items] == [
            (i.sku, i.quantity, i.unit_price) for i in wire.items
        ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("shipping_address"), "shipping_address"),
        (lambda p: p["items"][0].pop("name"), "name"),
        (lambda p: p["shipping_address"].update(country="Germany"), "country"),
        (lambda p: p["shipping_address"].pop("city"), "city"),
    ],
)
def test_a_version_2_payload_missing_what_version_2_requires_is_invalid(
    event_versions_path: Path, mutate: Any, message: str
) -> None:
    envelope = _created(event_versions_path, 2)
    mutate(envelope["payload"])
    with pytest.raises(InvalidEvent, match=f"OrderCreated v2 payload.*{message}"):
        decode_event(_encode(envelope))


def test_a_version_1_payload_sent_as_version_2_is_invalid_not_guessed(
    event_versions_path: Path,
) -> None:
    envelope = _created(event_versions_path, 1)
    envelope["event_version"] = 2
    with pytest.raises(InvalidEvent, match="OrderCreated v2 payload: Object missing required"):
        decode_event(_encode(envelope))


@pytest.mark.parametrize(("event_type", "version"), [("OrderCreated", 3), ("OrderConfirmed", 2)])
def test_a_version_newer_than_known_is_refused_not_applied_as_an_old_one(
    event_versions_path: Path, event_type: str, version: int
) -> None:
    envelope = next(e for e in _envelopes(event_versions_path) if e["event_type"] == event_type)
    envelope["event_version"] = version
    with pytest.raises(UnsupportedEventVersion) as refused:
        decode_event(_encode(envelope))
    assert refused.value.known == max(PAYLOAD_VERSIONS[event_type])
    assert f"{event_type} event_version {version}" in refused.value.reason
    assert "upgrade the projection" in refused.value.reason


@pytest.mark.parametrize("version", [0, -1])
def test_a_version_below_the_first_is_invalid(event_versions_path: Path, version: int) -> None:
    envelope = _created(event_versions_path, 1)
    envelope["event_version"] = version
    with pytest.raises(InvalidEvent, match=f"no event_version {version}"):
        decode_event(_encode(envelope))


def test_an_unknown_event_type_is_skipped_whatever_its_version(event_versions_path: Path) -> None:
    envelope = _created(event_versions_path, 1)
    envelope.update(event_type="OrderGiftWrapped", event_version=7, payload={"paper": "red"})
    assert isinstance(decode_event(_encode(envelope)), UnknownEvent)


def test_every_registered_version_names_its_type_and_number() -> None:
    for event_type, versions in PAYLOAD_VERSIONS.items():
        assert sorted(versions) == list(range(1, len(versions) + 1)), event_type
        for number, entry in versions.items():
            assert (entry.event_type, entry.version) == (event_type, number)
