"""A blue-green rebuild end to end, run the way the operator's BlueGreen ProjectionReplay runs
it: migrate and reset a new version, project into it beside the live one, promote it (the
query service switches with no restart), restart the live projection (it follows the
pointer), and only the new version moves from then on."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from readside_core.cache import INVALIDATION_CHANNEL, Invalidation, invalidation_encoder
from readside_core.db import create_engine
from readside_core.fixtures import read_messages
from readside_projection.events_tool import publish
from readside_testkit.ports import free_port
from readside_testkit.processes import LocalProcesses, isolated_env
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.e2e

REDIS_DB = 6  # a database of its own: the test flushes it


class Processes(LocalProcesses):
    """The read side's processes, and the port the query service is to listen on."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        super().__init__(env, logs)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"


@pytest.fixture
def side(fresh_database_url: str, stack_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    env = {**isolated_env(stack_env, fresh_database_url, REDIS_DB), "LOG_LEVEL": "INFO"}
    processes = Processes(env, tmp_path)
    yield processes
    processes.stop()


async def test_a_rebuilt_version_replaces_a_corrupted_one_without_a_restart_of_the_query_service(
    side: Processes, sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    env, schema = side.env, f"rm_{uuid.uuid4().hex[:8]}"
    shadow_group = env["CONSUMER_GROUP"] + "-rebuild"
    cache = aioredis.from_url(env["REDIS_URL"])
    await cache.flushdb()
    engine = create_engine(env["DATABASE_URL"], pool_size=1)
    messages = list(read_messages(sample_events_path))
    await publish(messages, brokers=env["KAFKA_BROKERS"], topic=env["KAFKA_TOPIC"])
    live = side.projection("projection-live")
    # Only the swap message can make the switch quick: the poll is 30 s.
    side.query("query", side.port, READ_MODEL_POLL_SECONDS="30")
    api = httpx.AsyncClient(base_url=side.base, timeout=5)

    async def served(order_id: str) -> Any:
        try:
            response = await api.get(f"/api/v1/orders/{order_id}")
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    async def all_served() -> bool:
        bodies = [await served(order_id) for order_id in sample_expected]
        return bodies == list(sample_expected.values())

    await eventually(all_served, 60, "every sample order from public")

    # The live version goes wrong (as if a bug had written it) and the wrong body is cached.
    order_id, expected = next(
        (k, v) for k, v in sample_expected.items() if v["status"] == "CONFIRMED"
    )
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE public.order_views SET carrier = 'CORRUPTED' WHERE order_id = :id"),
            {"id": order_id},
        )
    await cache.delete(f"order:{order_id}")
    await cache.publish(
        INVALIDATION_CHANNEL,
        invalidation_encoder.encode(Invalidation(orders=[order_id], scopes=[])),
    )

    async def corrupted() -> bool:
        return ((await served(order_id)) or {}).get("carrier") == "CORRUPTED"

    await eventually(corrupted, 10, "the corrupted body to be served")

    # BlueGreen: the reset Job (migrate, then reset into the new version), the shadow.
    for args in (("migrate",), ("reset", "--earliest")):
        done = side.cli(*args, READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=shadow_group)
        assert done.returncode == 0, done.stderr
    shadow = side.projection(
        "projection-shadow", READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=shadow_group
    )
    ends = len(messages)

    async def rebuilt() -> bool:
        async with engine.connect() as conn:
            stored = await conn.scalar(
                text(
                    f"SELECT coalesce(sum(next_offset), 0) FROM {schema}.consumer_offsets "
                    "WHERE consumer_group = :group"
                ),
                {"group": shadow_group},
            )
        return int(stored) >= ends

    await eventually(rebuilt, 90, "the shadow projection to catch up")
    assert await corrupted()  # still public

    stop = asyncio.Event()
    seen: list[tuple[int, str | None]] = []

    async def hammer() -> None:
        while not stop.is_set():
            response = await api.get(f"/api/v1/orders/{order_id}")
            seen.append((response.status_code, response.json().get("carrier")))

    hammering = asyncio.create_task(hammer())
    await asyncio.sleep(0.2)
    promoted = await asyncio.to_thread(
        side.cli, "promote", "--schema", schema, "--consumer-group", shadow_group
    )
    assert promoted.returncode == 0, promoted.stderr

    async def rebuilt_served() -> bool:
        return bool(await served(order_id) == expected)

    await eventually(rebuilt_served, 5, "the rebuilt order")
    stop.set()
    await hammering
    assert {status for status, _ in seen} == {200}
    carriers = [carrier for _, carrier in seen]
    first = carriers.index(expected["carrier"])
    assert set(carriers[:first]) <= {"CORRUPTED"}
    assert set(carriers[first:]) == {expected["carrier"]}
    print(f"{len(seen)} requests through the swap, {first} before it, all 200")
    assert await all_served()

    # The operator moves the live projection: a plain restart, same environment.
    live.send_signal(signal.SIGTERM)
    assert live.wait(timeout=30) == 0
    side.projection("projection-live-restarted")
    shadow.send_signal(signal.SIGTERM)
    assert shadow.wait(timeout=30) == 0
    other_id, other = next(
        (k, v) for k, v in sample_expected.items() if v["status"] == "CONFIRMED" and k != order_id
    )
    shipped = {
        "event_id": str(uuid.uuid4()),
        "aggregate_id": other_id,
        "aggregate_type": "Order",
        "event_type": "OrderShipped",
        "event_version": 1,
        "payload": {
            "order_id": other_id,
            "tracking_number": "TRK-BLUE-GREEN",
            "carrier": "DHL",
            "shipped_at": "2024-03-09T10:00:00.000000Z",
        },
        "metadata": {"correlation_id": None, "causation_id": None, "user_id": None},
        "timestamp": datetime.now(UTC).isoformat(),
        "sequence_number": None,
    }
    await publish(
        [(other_id.encode(), json.dumps(shipped).encode())],
        brokers=env["KAFKA_BROKERS"],
        topic=env["KAFKA_TOPIC"],
    )

    async def shipped_served() -> bool:
        return ((await served(other_id)) or {}).get("status") == "SHIPPED"

    await eventually(shipped_served, 60, "the new event through the followed version")
    async with engine.connect() as conn:
        statuses = dict(
            (
                await conn.execute(
                    text(
                        f"SELECT 'public', status FROM public.order_views WHERE order_id = :id "
                        f"UNION ALL SELECT 'new', status FROM {schema}.order_views "
                        "WHERE order_id = :id"
                    ),
                    {"id": other_id},
                )
            ).all()
        )
        live_groups = (
            await conn.execute(
                text(f"SELECT DISTINCT consumer_group FROM {schema}.consumer_offsets")
            )
        ).all()
    assert statuses == {"public": other["status"], "new": "SHIPPED"}
    assert live_groups == [(shadow_group,)]
    refused = side.cli("drop-read-model", "--schema", "public")
    assert refused.returncode == 2
    await api.aclose()
    await cache.aclose()
    await engine.dispose()
