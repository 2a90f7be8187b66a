"""The pure fold against the shared fixtures and DESIGN.md's semantics."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from readside_core.events import OrderEvent, decode_event
from readside_core.fixtures import read_messages
from readside_core.fold import FoldOutcome, fold_events, fold_order_event
from readside_core.views import OrderStatus, OrderView, json_encoder, order_to_json

pytestmark = pytest.mark.unit


def _events(path: Path) -> list[OrderEvent]:
    decoded = [decode_event(value) for _, value in read_messages(path)]
    assert all(isinstance(e, OrderEvent) for e in decoded)
    return decoded  # type: ignore[return-value]


def _as_json(value: Any) -> Any:
    return json.loads(json_encoder.encode(value))


def test_folding_the_sample_events_gives_the_expected_read_model_exactly(
    sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    views, _ = fold_events({}, _events(sample_events_path))
    produced = {str(order_id): _as_json(order_to_json(v)) for order_id, v in views.items()}
    assert produced == sample_expected


def test_times_use_the_seeds_wire_format(sample_events_path: Path) -> None:
    views, _ = fold_events({}, _events(sample_events_path)[:1])
    body = order_to_json(next(iter(views.values())))
    assert body["created_at"].endswith(".000000Z")


def test_the_same_event_twice_changes_nothing(sample_events_path: Path) -> None:
    events = _events(sample_events_path)
    once, _ = fold_events({}, events)
    twice, outcomes = fold_events(once, events)
    assert twice == {}
    assert {outcome for _, outcome in outcomes} == {FoldOutcome.DUPLICATE}


def test_a_redelivery_inside_one_batch_is_a_duplicate(sample_events_path: Path) -> None:
    events = _events(sample_events_path)
    single, _ = fold_events({}, events)
    doubled, outcomes = fold_events({}, [e for e in events for _ in range(2)])
    assert doubled == single
    assert sum(1 for _, o in outcomes if o is FoldOutcome.DUPLICATE) == len(events)


def test_version_counts_applied_events_and_status_follows_the_event(
    sample_events_path: Path,
) -> None:
    events = _events(sample_events_path)
    views, _ = fold_events({}, events)
    for order_id, view in views.items():
        applied = [e for e in events if e.order_id == order_id]
        assert view.version == len(applied)
        assert view.event_id_list() == [e.event_id for e in applied]
        assert view.status == OrderStatus(
            {
                "OrderCreated": "CREATED",
                "OrderConfirmed": "CONFIRMED",
                "OrderCancelled": "CANCELLED",
                "OrderShipped": "SHIPPED",
                "OrderDelivered": "DELIVERED",
            }[applied[-1].event_type]
        )


def test_an_update_for_an_unknown_order_is_reported_not_applied(sample_events_path: Path) -> None:
    confirmed = next(e for e in _events(sample_events_path) if e.event_type == "OrderConfirmed")
    result = fold_order_event(None, confirmed)
    assert result.outcome is FoldOutcome.MISSING_ORDER
    assert result.view is None


def test_a_second_order_created_with_a_new_event_id_is_not_applied(
    sample_events_path: Path,
) -> None:
    created = _events(sample_events_path)[0]
    view = fold_order_event(None, created).view
    again = msgspec.structs.replace(created, event_id=uuid4())
    result = fold_order_event(view, again)
    assert result.outcome is FoldOutcome.ALREADY_CREATED
    assert result.view == view


def test_amounts_stay_exact_decimals(sample_events_path: Path) -> None:
    views, _ = fold_events({}, _events(sample_events_path))
    for view in views.values():
        assert isinstance(view.total_amount, Decimal)
        assert view.total_amount == view.total_amount.quantize(Decimal("0.01"))


def test_an_event_id_counts_as_applied_only_where_a_whole_id_starts(
    sample_events_path: Path,
) -> None:
    sample = next(iter(fold_events({}, _events(sample_events_path))[0].values()))

    def holding(*ids: UUID) -> OrderView:
        return msgspec.structs.replace(sample, event_ids=b"".join(i.bytes for i in ids))

    first, second = uuid4(), uuid4()
    view = holding(first, second)
    assert view.applied(first)
    assert view.applied(second)
    assert view.event_id_list() == [first, second]
    # The last 8 bytes of one id and the first 8 of the next are not an id of the order...
    straddling = UUID(bytes=first.bytes[8:] + second.bytes[:8])
    assert not view.applied(straddling)
    # ...unless it is also held further on, where a whole id starts.
    assert holding(first, second, straddling).applied(straddling)
    assert not holding().applied(first)
