"""Event versions for real (Kafka, PostgreSQL, the projection process): a mixed v1/v2 stream,
and a version newer than the projection knows stopping its partition until the upgrade."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from readside_core.fixtures import read_messages
from readside_core.views import json_encoder, order_to_json
from readside_testkit.ports import free_port
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration
PATCHED = [sys.executable, str(Path(__file__).parent / "patched_projection.py")]


def _bodies(orders: dict[str, Any]) -> dict[str, Any]:
    return {oid: json.loads(json_encoder.encode(order_to_json(v))) for oid, v in orders.items()}


async def test_a_mixed_stream_of_versions_1_and_2_folds_to_the_expected_views(
    harness: Any, event_versions_path: Path, event_versions_expected: dict[str, Any]
) -> None:
    await harness.create_topic(3)
    await harness.publish(read_messages(event_versions_path))
    harness.projection()
    await harness.wait_caught_up()
    model = await harness.read_model()
    assert _bodies(model.orders) == event_versions_expected
    assert model.summaries_json() == model.expected_summaries_json()
    addresses = [o.shipping_address for o in model.orders.values()]
    assert sum(a is not None for a in addresses) == 3  # the three version 2 orders


def _with_version_3(messages: list[tuple[bytes | None, bytes]]) -> tuple[list[Any], int]:
    """The stream with the first version 2 OrderCreated re-published as a version 3 (v2 plus
    a field); also where it sits."""
    for index, (key, value) in enumerate(messages):
        envelope = json.loads(value)
        if envelope["event_type"] == "OrderCreated" and envelope["event_version"] == 2:
            envelope["event_version"] = 3
            envelope["payload"]["gift_wrap"] = True
            changed = [*messages]
            changed[index] = (key, json.dumps(envelope).encode())
            return changed, index
    raise AssertionError("the fixture has no version 2 OrderCreated")


async def test_a_too_new_version_stops_the_partition_until_a_projection_that_knows_it(
    harness: Any, event_versions_path: Path, event_versions_expected: dict[str, Any]
) -> None:
    messages, at = _with_version_3(list(read_messages(event_versions_path)))
    stopped_order = json.loads(messages[at][1])["aggregate_id"]
    await harness.create_topic(1)
    await harness.publish(messages)
    ops = free_port()
    old = harness.projection(OPS_PORT=str(ops), OPS_HOST="127.0.0.1")

    async def stopped() -> str | None:
        try:
            async with httpx.AsyncClient() as client:
                ready = await client.get(f"http://127.0.0.1:{ops}/readyz")
        except httpx.HTTPError:
            return None
        stored = await harness.stored_offsets()
        return ready.text if ready.status_code == 503 and stored == {0: at} else None

    reason = await eventually(stopped, 60, "the partition stopped at the version 3 record", 0.2)
    assert f"stopped at offset {at}: OrderCreated event_version 3 is newer" in reason
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{ops}/metrics")).text
    gauge = f'readside_projection_partition_stalled{{partition="0",topic="{harness.topic}"}}'
    assert f"{gauge} 1.0" in metrics
    # Only what came before it is applied: not the v3 order, nor any later event of any order.
    model = await harness.read_model()
    before = {json.loads(v)["aggregate_id"] for _, v in messages[:at]}
    assert set(model.orders) == before
    assert stopped_order not in model.orders
    applied = sum(o.version for o in model.orders.values())
    assert applied == at

    assert old.kill(signal.SIGTERM) == 0
    harness.projection(command=[*PATCHED, "knows-order-created-v3"])
    await harness.wait_caught_up()
    model = await harness.read_model()
    assert _bodies(model.orders) == event_versions_expected  # v3 upcast like v2, in order
