"""The whole read side as a user runs it: Kafka -> projection -> PostgreSQL -> query API.

Both services run as real processes (the projection's CLI, the query service on Granian)
against the local stack, each test on its own topic, group and database.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from readside_core.fixtures import read_messages
from readside_projection.events_tool import publish
from readside_testkit.ports import free_port
from readside_testkit.processes import LocalProcesses, isolated_env
from readside_testkit.waiting import wait_until

pytestmark = pytest.mark.e2e


class ReadSide:
    """The projection and the query service, started as a user starts them."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes = LocalProcesses(env, logs)
        self.processes.projection("projection")
        self.processes.query("query", self.port)
        self.wait_for(lambda: self.get("/readyz").status_code == 200, "query /readyz", 60)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return httpx.get(self.base + path, timeout=5, **kwargs)
        except httpx.TransportError:
            return httpx.Response(599)

    @staticmethod
    def wait_for(predicate: Any, what: str, within: float) -> None:
        wait_until(predicate, within, what)

    def stop(self) -> None:
        self.processes.stop()


@pytest.fixture
def read_side(
    fresh_database_url: str, stack_env: dict[str, str], tmp_path: Path
) -> Iterator[ReadSide]:
    env = isolated_env(stack_env, fresh_database_url, 5)
    side = ReadSide(env, tmp_path)
    yield side
    side.stop()


async def test_the_sample_events_are_served_exactly_as_expected(
    read_side: ReadSide, sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    env = read_side.env
    await publish(
        read_messages(sample_events_path), brokers=env["KAFKA_BROKERS"], topic=env["KAFKA_TOPIC"]
    )
    pending = dict(sample_expected)

    def all_served() -> bool:
        for order_id, expected in list(pending.items()):
            if read_side.get(f"/api/v1/orders/{order_id}").json() == expected:
                del pending[order_id]
        return not pending

    read_side.wait_for(all_served, "every sample order in the API", 60)
    for expected in sample_expected.values():
        by_number = read_side.get(f"/api/v1/orders/number/{expected['order_number']}")
        assert by_number.json() == expected
    customer = next(iter(sample_expected.values()))["customer_id"]
    listed = read_side.get(f"/api/v1/customers/{customer}/orders").json()
    mine = [o for o in sample_expected.values() if o["customer_id"] == customer]
    assert listed["total"] == len(mine)
    assert listed["orders"] == sorted(mine, key=lambda o: o["created_at"], reverse=True)
    summary = read_side.get(f"/api/v1/customers/{customer}/summary").json()
    assert summary["order_count"] == len(mine)


async def test_a_cached_order_is_replaced_after_an_update_within_the_measured_delay(
    read_side: ReadSide, sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    env = read_side.env
    messages = list(read_messages(sample_events_path))
    await publish(messages, brokers=env["KAFKA_BROKERS"], topic=env["KAFKA_TOPIC"])
    order = next(o for o in sample_expected.values() if o["status"] == "CONFIRMED")
    path = f"/api/v1/orders/{order['order_id']}"
    read_side.wait_for(lambda: read_side.get(path).json() == order, "the order in the API", 60)
    for _ in range(3):  # warm every cache layer
        assert read_side.get(path).json() == order
    customer_page = f"/api/v1/customers/{order['customer_id']}/orders"
    read_side.get(customer_page)

    shipped = {
        "event_id": str(uuid.uuid4()),
        "aggregate_id": order["order_id"],
        "aggregate_type": "Order",
        "event_type": "OrderShipped",
        "event_version": 1,
        "payload": {
            "order_id": order["order_id"],
            "tracking_number": "TRK-E2E",
            "carrier": "DHL",
            "shipped_at": "2024-03-09T10:00:00.000000Z",
        },
        "metadata": {"correlation_id": None, "causation_id": None, "user_id": None},
        "timestamp": datetime.now(UTC).isoformat(),
        "sequence_number": None,
    }
    sent = time.perf_counter()
    await publish(
        [(order["order_id"].encode(), json.dumps(shipped).encode())],
        brokers=env["KAFKA_BROKERS"],
        topic=env["KAFKA_TOPIC"],
    )
    read_side.wait_for(
        lambda: read_side.get(path).json()["status"] == "SHIPPED",
        "the update to replace the cached order",
        10,
    )
    delay = time.perf_counter() - sent
    print(f"\npublish -> updated cached order visible: {delay * 1000:.0f} ms")
    body = read_side.get(path).json()
    assert body["version"] == order["version"] + 1
    assert body["tracking_number"] == "TRK-E2E"
    page = read_side.get(customer_page).json()
    assert next(o for o in page["orders"] if o["order_id"] == order["order_id"]) == body
    # Once fresh, it stays fresh: no layer serves the old body again.
    for _ in range(20):
        assert read_side.get(path).json() == body


# --- read-after-write: gated reads (readside_query.gating) ---------------------------------


async def _publish_with_acks(env: dict[str, str], messages: list[Any]) -> dict[int, int]:
    """Publish like a command side does, keeping its producer's acks: the highest offset of
    every partition written."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BROKERS"], acks="all")
    await producer.start()
    try:
        acks = [
            await producer.send_and_wait(env["KAFKA_TOPIC"], value=value, key=key)
            for key, value in messages
        ]
    finally:
        await producer.stop()
    highest: dict[int, int] = {}
    for ack in acks:
        highest[ack.partition] = max(highest.get(ack.partition, -1), ack.offset)
    return highest


async def test_a_read_gated_on_the_producers_acks_sees_every_write_at_once(
    read_side: ReadSide, sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    acks = await _publish_with_acks(read_side.env, list(read_messages(sample_events_path)))
    gate = "min_offsets=" + ",".join(f"{p}:{o}" for p, o in sorted(acks.items()))
    # No polling: each first answer must already be the final state.
    async with httpx.AsyncClient(base_url=read_side.base, timeout=30) as client:
        for order_id, expected in sample_expected.items():
            response = await client.get(f"/api/v1/orders/{order_id}?{gate}&wait=20")
            assert response.status_code == 200, response.text
            assert response.json() == expected
        customer = next(iter(sample_expected.values()))["customer_id"]
        summary = await client.get(f"/api/v1/customers/{customer}/summary?{gate}")
        mine = [o for o in sample_expected.values() if o["customer_id"] == customer]
        assert summary.json()["order_count"] == len(mine)


async def test_a_read_gated_on_an_order_version_asked_before_the_write_waits_for_it(
    read_side: ReadSide, sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    import asyncio

    order = max(sample_expected.values(), key=lambda o: o["version"])
    path = f"/api/v1/orders/{order['order_id']}?min_version={order['version']}&wait=30"
    async with httpx.AsyncClient(base_url=read_side.base, timeout=40) as client:
        waiting = asyncio.create_task(client.get(path))  # asked before anything is published
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await _publish_with_acks(read_side.env, list(read_messages(sample_events_path)))
        response = await waiting
    assert response.status_code == 200, response.text
    assert response.json() == order


def test_a_gate_not_reached_in_time_says_what_was_asked_and_when_to_retry(
    read_side: ReadSide,
) -> None:
    response = read_side.get(f"/api/v1/orders/{uuid.uuid4()}?min_offsets=0:999999&wait=0.3")
    assert response.status_code == 412
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["error"] == "not_reached"
    assert body["detail"][0]["parameter"] == "min_offsets"
    assert body["detail"][0]["message"].startswith("asked 0:999999, reached 0:")


def test_bad_gates_are_400_naming_every_parameter(read_side: ReadSide) -> None:
    response = read_side.get(
        f"/api/v1/orders/{uuid.uuid4()}?min_offsets=zero&min_version=0&wait=-1"
    )
    assert response.status_code == 400
    assert [d["parameter"] for d in response.json()["detail"]] == [
        "min_offsets",
        "min_version",
        "wait",
    ]
