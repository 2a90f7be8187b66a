"""Pure batch planning: decoding, dead letters, number conflicts, outcomes and cache scopes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from readside_core.fixtures import read_messages
from readside_core.fold import fold_events
from readside_projection.batch import Record, decode_batch, plan_batch
from readside_projection.generator import generate

pytestmark = pytest.mark.unit


def _records(messages: list[tuple[bytes | None, bytes]], partition: int = 0) -> list[Record]:
    return [Record("order-events", partition, n, k, v) for n, (k, v) in enumerate(messages)]


@pytest.fixture
def sample(sample_events_path: Path) -> list[tuple[bytes | None, bytes]]:
    return list(read_messages(sample_events_path))


def test_a_batch_folds_like_the_pure_fold(sample: list[tuple[bytes | None, bytes]]) -> None:
    batch = decode_batch(_records(sample))
    plan = plan_batch(batch, {}, {})
    expected, _ = fold_events({}, [event for _, event in batch.events])
    assert plan.changed == expected
    assert plan.outcomes["applied"] == len(sample)
    assert batch.next_offsets == {("order-events", 0): len(sample)}


def test_bad_messages_become_dead_letters_and_good_ones_around_them_apply(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    messages = [sample[0], (b"k", b"{not json"), (None, None), sample[1]]  # type: ignore[list-item]
    plan = plan_batch(decode_batch(_records(messages)), {}, {})  # type: ignore[arg-type]
    assert [d.record.offset for d in plan.dead_letters] == [1, 2]
    assert "envelope" in plan.dead_letters[0].error
    assert "tombstone" in plan.dead_letters[1].error
    assert plan.outcomes["applied"] == 2
    assert plan.outcomes["dead_lettered"] == 2


def test_unknown_event_types_are_counted_and_skipped(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    envelope = json.loads(sample[0][1])
    envelope["event_type"] = "OrderGiftWrapped"
    plan = plan_batch(decode_batch(_records([(None, json.dumps(envelope).encode())])), {}, {})
    assert plan.outcomes["skipped_unknown"] == 1
    assert plan.changed == {}
    assert plan.dead_letters == []


def test_an_order_number_owned_by_another_order_is_dead_lettered(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    batch = decode_batch(_records(sample[:1]))
    _, created = batch.events[0]
    other = created.order_id.__class__(int=1)
    plan = plan_batch(batch, {}, {created.payload.order_number: other})  # type: ignore[union-attr]
    assert plan.changed == {}
    assert "already belongs to order" in plan.dead_letters[0].error


def test_two_new_orders_with_one_number_in_a_batch_keep_the_first(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    first = json.loads(sample[0][1])
    second = json.loads(sample[1][1])
    second["payload"]["order_number"] = first["payload"]["order_number"]
    messages = [(None, json.dumps(first).encode()), (None, json.dumps(second).encode())]
    plan = plan_batch(decode_batch(_records(messages)), {}, {})
    assert list(map(str, plan.changed)) == [first["aggregate_id"]]
    assert len(plan.dead_letters) == 1


def test_updates_for_missing_orders_are_reported(sample: list[tuple[bytes | None, bytes]]) -> None:
    updates = [m for m in sample if b'"OrderConfirmed"' in m[1]][:3]
    plan = plan_batch(decode_batch(_records(updates)), {}, {})
    assert plan.outcomes["missing_order"] == 3
    assert len(plan.missing) == 3


def test_scopes_name_the_customer_and_the_old_and_new_status(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    events = decode_batch(_records(sample)).events
    confirmed = next(pair for pair in events if pair[1].event_type == "OrderConfirmed")
    created = next(pair for pair in events if pair[1].order_id == confirmed[1].order_id)
    batch = decode_batch([])
    batch.events[:] = [created]
    view = plan_batch(batch, {}, {}).changed[created[1].order_id]
    products = {f"product:{item['product_id']}" for item in view.items} | {"products"}
    customer = {f"customer:{view.customer_id}"}
    assert plan_batch(batch, {}, {}).scopes == {"status:CREATED", *customer, *products}
    batch.events[:] = [confirmed]
    plan = plan_batch(batch, {view.order_id: view}, {})
    assert plan.scopes == {"status:CREATED", "status:CONFIRMED", *customer, *products}
    assert plan.changes() == [(view, plan.changed[view.order_id])]


def test_generated_lifecycles_with_duplicates_fold_to_the_same_views() -> None:
    clean = list(generate(300, seed=7))
    noisy = list(generate(300, seed=7, duplicate_rate=0.2))
    assert len(noisy) > len(clean)
    a = plan_batch(decode_batch(_records(clean)), {}, {})
    b = plan_batch(decode_batch(_records(noisy)), {}, {})
    assert a.changed == b.changed
    assert b.outcomes["duplicate"] == len(noisy) - len(clean)


def test_the_event_tool_writes_generated_lifecycles_in_the_fixtures_format(
    tmp_path: Path,
) -> None:
    from readside_core.events import OrderEvent, decode_event
    from readside_projection.events_tool import main

    out = tmp_path / "generated.jsonl"
    main(["generate", "--orders", "20", "--seed", "3", "--out", str(out)])
    messages = list(read_messages(out))
    assert len(messages) >= 20
    decoded = [decode_event(value) for _, value in messages]
    assert all(isinstance(event, OrderEvent) for event in decoded)
    keys = [key for key, _ in messages]
    assert keys == [str(event.order_id).encode() for event in decoded]  # type: ignore[union-attr]


def _too_new(message: tuple[bytes | None, bytes]) -> tuple[bytes | None, bytes]:
    envelope = json.loads(message[1])
    envelope["event_version"] = 99
    return message[0], json.dumps(envelope).encode()


def test_a_too_new_version_stops_its_partition_there_and_others_go_on(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    stopped = [sample[0], _too_new(sample[1]), sample[2], sample[3]]
    records = _records(stopped, partition=0) + _records(sample[4:6], partition=1)
    batch = decode_batch(records)
    assert set(batch.stalled) == {("order-events", 0)}
    stall = batch.stalled["order-events", 0]
    assert stall.offset == 1
    assert "event_version 99 is newer than this projection knows" in stall.reason
    # Nothing at or after the refused record is consumed; partition 1 is untouched.
    assert [(r.partition, r.offset) for r, _ in batch.events] == [(0, 0), (1, 0), (1, 1)]
    assert batch.next_offsets == {("order-events", 0): 1, ("order-events", 1): 2}
    assert not batch.dead_letters


def test_a_partition_stopped_at_its_first_record_stores_no_offset(
    sample: list[tuple[bytes | None, bytes]],
) -> None:
    batch = decode_batch(_records([_too_new(sample[0]), sample[1]]))
    assert batch.stalled["order-events", 0].offset == 0
    assert batch.next_offsets == {}
    assert batch.events == []
    assert batch.records == 0
