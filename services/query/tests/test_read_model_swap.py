"""Following the live read model: a real Granian process switches versions on `promote`
(the projection image's CLI, as the operator's Job runs it) with no restart, no failed
request and no entry of the old version served afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis.asyncio as aioredis

from readside_core.cache import INVALIDATION_CHANNEL, Invalidation, invalidation_encoder
from readside_core.db import create_engine
from readside_core.views import OrderStatus, OrderView, order_to_json
from readside_testkit.api import get_json, metric
from readside_testkit.orders import as_json, created, shipped
from readside_testkit.processes import projection_command, running_query_service
from readside_testkit.read_model import write_views
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration

# A Redis database of these tests' own (the channel is shared, which is harmless).
SWAP_TEST_REDIS_DB = 13
AT = datetime(2032, 1, 1, tzinfo=UTC)


def projection_cli(database_url: str, redis_url: str | None, *args: str, **env: str) -> str:
    full = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **env}
    full.pop("REDIS_URL", None)
    if redis_url:
        full["REDIS_URL"] = redis_url
    done = subprocess.run(
        projection_command(*args),
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def write(database_url: str, schema: str, views: list[OrderView]) -> None:
    engine = create_engine(database_url, schema=schema, pool_size=1)
    try:
        await write_views(engine, views)
    finally:
        await engine.dispose()


class TwoVersions:
    """public and a new version that differ: one order shipped, one order only in the new."""

    def __init__(self, database_url: str, schema: str) -> None:
        self.database_url, self.schema = database_url, schema
        self.customer = uuid4()
        self.old = created(self.customer, AT)
        self.new = shipped(self.old, AT + timedelta(hours=1))
        self.only_new = created(self.customer, AT + timedelta(hours=2))

    async def build(self) -> None:
        await write(self.database_url, "public", [self.old])
        projection_cli(self.database_url, None, "migrate", READ_MODEL_SCHEMA=self.schema)
        await write(self.database_url, self.schema, [self.new, self.only_new])

    def paths(self) -> dict[str, str]:
        return {
            "order": f"/api/v1/orders/{self.old.order_id}",
            "number": f"/api/v1/orders/number/{self.old.order_number}",
            "customer": f"/api/v1/customers/{self.customer}/orders",
            "summary": f"/api/v1/customers/{self.customer}/summary",
            "status": f"/api/v1/orders/status/{OrderStatus.SHIPPED.value}",
        }


@pytest.fixture
async def versions(fresh_database_url: str) -> TwoVersions:
    built = TwoVersions(fresh_database_url, f"rm_{uuid4().hex[:8]}")
    await built.build()
    return built


@pytest.fixture
def swap_redis_url(redis_url: str) -> str:
    base, _, _ = redis_url.rpartition("/")
    return f"{base}/{SWAP_TEST_REDIS_DB}"


@pytest.fixture
def service(versions: TwoVersions, swap_redis_url: str, request: Any) -> Iterator[str]:
    """readside-query over both versions; READ_MODEL_POLL_SECONDS from the test's parameter."""
    poll = getattr(request, "param", "30")
    env = {
        "DATABASE_URL": versions.database_url,
        "REDIS_URL": swap_redis_url,
        "READ_MODEL_POLL_SECONDS": poll,
    }
    with running_query_service(env) as base_url:
        yield base_url


async def warm(api: httpx.AsyncClient, paths: dict[str, str]) -> dict[str, Any]:
    """Every path twice (the second from the caches); the bodies."""
    bodies = {name: await get_json(api, path) for name, path in paths.items()}
    assert {name: await get_json(api, path) for name, path in paths.items()} == bodies
    return bodies


async def hammer(
    api: httpx.AsyncClient, path: str, field: str, stop: asyncio.Event, miss: bool = False
) -> list[tuple[int, Any]]:
    """GET `path` until stopped: (status, body[field]) of each answer. `miss`: a new offset
    each time, so that every request goes to PostgreSQL."""
    seen: list[tuple[int, Any]] = []
    while not stop.is_set():
        params = {"offset": str(len(seen))} if miss else None
        response = await api.get(path, params=params)
        seen.append((response.status_code, response.json().get(field)))
    return seen


def assert_one_switch(seen: list[tuple[int, Any]], old: Any, new: Any) -> None:
    """Every answer a 200; old values, then from the first new one on only new ones."""
    assert {status for status, _ in seen} == {200}
    values = [value for _, value in seen]
    first_new = values.index(new)
    assert set(values[:first_new]) <= {old}
    assert set(values[first_new:]) == {new}


async def test_promote_switches_every_route_at_once_with_no_failed_request_and_no_stale_entry(
    service: str, versions: TwoVersions, swap_redis_url: str
) -> None:
    paths = versions.paths()
    async with httpx.AsyncClient(base_url=service, timeout=10) as api:
        assert (await get_json(api, "/readyz"))["read_model"] == "public"
        before = await warm(api, paths)
        assert before["order"] == as_json(order_to_json(versions.old))
        assert before["customer"]["total"] == 1
        assert before["status"]["orders"] == []

        stop = asyncio.Event()
        orders = [hammer(api, paths[name], "version", stop) for name in ("order", "number")]
        lists = [hammer(api, paths["customer"], "total", stop, miss=True)]
        hammers = [asyncio.create_task(each) for each in (*orders, *lists)]
        await asyncio.sleep(0.5)
        started = time.monotonic()
        # The poll interval is 30 s here: only the swap message can make this quick.
        # In a thread: the requests go on while the command runs.
        await asyncio.to_thread(
            projection_cli,
            versions.database_url,
            swap_redis_url,
            "promote",
            "--schema",
            versions.schema,
            "--consumer-group",
            "g-new",
        )
        returned = time.monotonic()

        async def switched() -> bool:
            return (await get_json(api, paths["order"]))["version"] == versions.new.version

        await eventually(switched, within=5)
        switch_seconds = time.monotonic() - started
        after_return = time.monotonic() - returned
        await asyncio.sleep(0.3)
        stop.set()
        counts = []
        for task in hammers[:2]:
            seen = await task
            assert_one_switch(seen, versions.old.version, versions.new.version)
            counts.append(len(seen))
        seen = await hammers[2]
        assert_one_switch(seen, 1, 2)  # the customer's total: 1 order in public, 2 in the new
        counts.append(len(seen))

        after = await warm(api, paths)
        assert after["order"] == as_json(order_to_json(versions.new))
        assert after["number"] == after["order"]
        assert after["customer"]["total"] == 2
        assert {o["order_id"] for o in after["customer"]["orders"]} == {
            str(versions.new.order_id),
            str(versions.only_new.order_id),
        }
        assert after["summary"]["order_count"] == 2
        assert [o["order_id"] for o in after["status"]["orders"]] == [str(versions.new.order_id)]
        assert (await get_json(api, "/readyz"))["read_model"] == versions.schema
        text = (await api.get("/metrics")).text
        assert metric(text, "readside_query_read_model_info", schema=versions.schema) == 1
        assert metric(text, "readside_query_read_model_info", schema="public") == 0
    print(
        f"switched within {switch_seconds:.2f}s of the promote command starting "
        f"({after_return:.3f}s after it returned); "
        f"requests during the swap (by id, by number, list misses): {counts}"
    )


@pytest.mark.parametrize("service", ["0.5"], indirect=True)
async def test_other_versions_messages_are_ignored_and_the_poll_finds_a_silent_promote(
    service: str, versions: TwoVersions, swap_redis_url: str
) -> None:
    paths = versions.paths()
    async with httpx.AsyncClient(base_url=service, timeout=10) as api:
        await warm(api, paths)
        text = (await api.get("/metrics")).text
        ignored = metric(text, "readside_query_invalidations_total", outcome="other_read_model")
        # A shadow projection's message about the order: not ours, nothing is evicted.
        client = aioredis.from_url(swap_redis_url)
        shadow = Invalidation(
            orders=[str(versions.old.order_id)], scopes=[], flush=True, schema=versions.schema
        )
        await client.publish(INVALIDATION_CHANNEL, invalidation_encoder.encode(shadow))
        await client.aclose()

        async def counted() -> bool:
            text = (await api.get("/metrics")).text
            now = metric(text, "readside_query_invalidations_total", outcome="other_read_model")
            return now > ignored

        await eventually(counted, within=5)
        local_hits = metric(
            (await api.get("/metrics")).text,
            "readside_query_cache_lookups_total",
            layer="local",
            kind="order",
            result="hit",
        )
        assert (await get_json(api, paths["order"]))["version"] == versions.old.version
        text = (await api.get("/metrics")).text
        hits = metric(
            text, "readside_query_cache_lookups_total", layer="local", kind="order", result="hit"
        )
        assert hits == local_hits + 1  # still in process: the message evicted nothing

        # No Redis for the promote: no swap message, the service finds it at its next poll.
        projection_cli(
            versions.database_url,
            None,
            "promote",
            "--schema",
            versions.schema,
            "--consumer-group",
            "g-new",
        )

        async def switched() -> bool:
            return (await get_json(api, "/readyz"))["read_model"] == versions.schema

        await eventually(switched, within=5)
        assert (await get_json(api, paths["order"])) == as_json(order_to_json(versions.new))
