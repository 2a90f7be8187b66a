"""Versioned read models, driven through the real CLI as the operator's Jobs drive it:
migrate a version, project into it beside public, promote it, follow it, reset it, drop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from readside_core.db import create_engine
from readside_core.fixtures import read_messages
from readside_core.read_model_version import PUBLIC, READ_MODEL_TABLES, read_model_version
from readside_projection.generator import generate
from readside_testkit.ports import free_port
from readside_testkit.processes import projection_command
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration

# A Redis database of these tests' own: they assert which keys exist.
VERSIONS_TEST_REDIS_DB = 12


def cli(harness: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        projection_command(*args),
        env={**os.environ, **harness.env(**env)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


async def sql(harness: Any, statement: str) -> list[Any]:
    engine = create_engine(harness.database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement))
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def redis_keys(harness: Any, pattern: str) -> set[str]:
    client = aioredis.from_url(harness.redis_url)
    try:
        return {key.decode() async for key in client.scan_iter(match=pattern, count=1000)}
    finally:
        await client.aclose()


@pytest.fixture
def versions(harness: Any) -> Any:
    """The harness, with a Redis database of our own and a schema name nobody else uses."""
    base, _, _ = harness.redis_url.rpartition("/")
    harness.redis_url = f"{base}/{VERSIONS_TEST_REDIS_DB}"
    harness.schema = f"rm_{uuid.uuid4().hex[:8]}"
    return harness


async def test_migrate_creates_a_version_beside_public_and_is_idempotent(versions: Any) -> None:
    schema = versions.schema
    first = ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    again = ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    assert first["schemas"] == again["schemas"] == [schema]
    tables = await sql(
        versions,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'",
    )
    assert {t for (t,) in tables} == {*READ_MODEL_TABLES, "alembic_version"}
    assert {"order_views", "product_views", "product_revenue"} <= set(READ_MODEL_TABLES)
    assert await sql(versions, f"SELECT version_num FROM {schema}.alembic_version") == [
        (first["revision"],)
    ]
    # The pointer lives in public only, and public is untouched.
    assert await sql(versions, f"SELECT to_regclass('{schema}.readside_live_read_model')") == [
        (None,)
    ]
    status = ok(cli(versions, "read-model-status"))
    assert status["schema"] == "public"
    assert status["consumerGroup"] == versions.group
    assert status["versions"] == sorted(["public", schema])


async def test_promote_refuses_what_cannot_be_served_and_is_idempotent(versions: Any) -> None:
    schema = versions.schema
    missing = cli(versions, "promote", "--schema", schema, "--consumer-group", "g2")
    assert missing.returncode == 2
    assert f"READ_MODEL_SCHEMA={schema}" in missing.stderr
    bad = cli(versions, "promote", "--schema", "Robert'); DROP", "--consumer-group", "g2")
    assert bad.returncode == 2
    assert "lowercase identifier" in bad.stderr

    ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    await sql(versions, f"UPDATE {schema}.alembic_version SET version_num = '0002'")
    behind = cli(versions, "promote", "--schema", schema, "--consumer-group", "g2")
    assert behind.returncode == 2
    assert "is at migration 0002" in behind.stderr
    # Truly back at 0002 (without what 0003 and 0004 create), so that migrate moves it on.
    await sql(versions, f"DROP TABLE {schema}.product_views, {schema}.product_revenue")
    await sql(versions, f"DROP FUNCTION {schema}.readside_offsets_fenced(text)")
    await sql(
        versions,
        f"ALTER TABLE {schema}.customer_summaries DROP COLUMN live_orders_by_currency",
    )
    ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))

    first = ok(cli(versions, "promote", "--schema", schema, "--consumer-group", "g2"))
    again = ok(cli(versions, "promote", "--schema", schema, "--consumer-group", "g2"))
    assert (first["changed"], first["previousSchema"]) == (True, "public")
    assert (again["changed"], again["previousSchema"]) == (False, schema)
    assert await sql(
        versions, "SELECT schema_name, consumer_group FROM public.readside_live_read_model"
    ) == [(schema, "g2")]
    status = ok(cli(versions, "read-model-status"))
    assert (status["schema"], status["consumerGroup"], status["pointer"]) == (schema, "g2", True)


async def test_a_shadow_rebuild_is_promoted_and_the_restarted_live_projection_follows_it(
    versions: Any, sample_events_path: Path, assert_exact: Any
) -> None:
    schema, shadow_group = versions.schema, f"{versions.group}-shadow"
    messages = list(read_messages(sample_events_path))
    await versions.publish(messages)
    live = versions.projection()
    await versions.wait_caught_up()
    public_before = await versions.read_model()
    # Stopped for the cache check below (in production it keeps serving through the rebuild).
    assert live.kill(signal.SIGTERM) == 0
    client = aioredis.from_url(versions.redis_url)
    await client.flushdb()
    await client.aclose()

    # The operator's reset Job for a BlueGreen replay: migrate the new version, then reset it.
    ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    reset = ok(
        cli(versions, "reset", "--earliest", READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=shadow_group)
    )
    assert (reset["schema"], reset["group"]) == (schema, shadow_group)
    shadow = versions.projection(READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=shadow_group)
    await versions.wait_caught_up(group=shadow_group, schema=schema)

    rebuilt = await versions.read_model(schema)
    assert rebuilt.orders == public_before.orders
    assert rebuilt.summaries_json() == public_before.summaries_json()
    assert await versions.read_model() == public_before
    assert await versions.stored_offsets(shadow_group) == {}  # public has no shadow offsets
    # The shadow wrote through into its own namespace only.
    shadow_keys = await redis_keys(versions, f"{schema}:order:*")
    assert shadow_keys == {f"{schema}:{PUBLIC.order_key(o)}" for o in rebuilt.orders}
    assert await redis_keys(versions, "order:*") == set()
    assert await redis_keys(versions, "gen:*") == set()
    assert await redis_keys(versions, f"{schema}:gen:*")

    promoted = ok(cli(versions, "promote", "--schema", schema, "--consumer-group", shadow_group))
    assert promoted["changed"]
    assert promoted["storedPartitions"] == len(await versions.end_offsets())

    # The operator then (re)starts the live projection with its unchanged environment.
    assert shadow.kill(signal.SIGTERM) == 0
    port = free_port()
    followed = versions.projection(OPS_PORT=str(port))
    more = list(generate(20, seed=20))
    await versions.publish(more)
    await versions.wait_caught_up(group=shadow_group, schema=schema)
    model = await versions.read_model(schema)
    assert len(model.orders) == len(public_before.orders) + 20
    assert await versions.read_model() == public_before  # public no longer moves
    labels = f'consumer_group="{shadow_group}",schema="{schema}"'
    metric = f"readside_projection_read_model_info{{{labels}}} 1.0"

    async def exported() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.TransportError:
            return False
        return metric in response.text

    await eventually(exported, 30, "the read-model metric")
    followed.kill(signal.SIGTERM)
    log = versions.processes[-1].logs[-1].read_text()
    assert f"writing read model {schema} with consumer group {shadow_group}" in log
    assert "(from the live pointer)" in log


async def test_reset_works_on_one_version_and_flushes_only_its_namespace(
    versions: Any, sample_events_path: Path
) -> None:
    schema, group = versions.schema, f"{versions.group}-shadow"
    await versions.publish(read_messages(sample_events_path))
    ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    shadow = versions.projection(READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=group)
    await versions.wait_caught_up(group=group, schema=schema)
    refused = cli(versions, "reset", "--earliest", READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=group)
    assert refused.returncode == 2
    assert "active member" in refused.stderr
    shadow.kill(signal.SIGTERM)

    public_key = PUBLIC.order_key(uuid.uuid4())
    client = aioredis.from_url(versions.redis_url)
    await client.set(public_key, b"{}", ex=60)
    await client.aclose()
    assert await redis_keys(versions, f"{schema}:*")

    done = ok(cli(versions, "reset", "--earliest", READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=group))
    assert set(done["offsets"].values()) == {0}
    assert (await versions.read_model(schema)).orders == {}
    assert set((await versions.stored_offsets(group, schema)).values()) == {0}
    assert await redis_keys(versions, f"{schema}:*") == set()
    assert await redis_keys(versions, public_key) == {public_key}

    unmigrated = cli(versions, "reset", "--earliest", READ_MODEL_SCHEMA="rm_never_migrated")
    assert unmigrated.returncode == 2
    assert "run `readside-projection migrate` with READ_MODEL_SCHEMA=rm_never_migrated" in (
        unmigrated.stderr
    )


async def test_drop_read_model_refuses_public_and_the_live_one_and_removes_an_old_one(
    versions: Any,
) -> None:
    live, old = versions.schema, f"{versions.schema}_old"
    for schema in (live, old):
        ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    ok(cli(versions, "promote", "--schema", live, "--consumer-group", "g2"))
    client = aioredis.from_url(versions.redis_url)
    old_keys = [read_model_version(old).order_key(uuid.uuid4()) for _ in range(3)]
    live_key = read_model_version(live).order_key(uuid.uuid4())
    for key in [*old_keys, live_key]:
        await client.set(key, b"{}", ex=60)
    await client.aclose()

    for refused, why in ((live, "is the live one"), ("public", "never dropped")):
        result = cli(versions, "drop-read-model", "--schema", refused)  # at once, no grace
        assert result.returncode == 2
        assert why in result.stderr

    dropped = ok(cli(versions, "drop-read-model", "--schema", old, "--grace-seconds", "0"))
    assert dropped == {"schema": old, "dropped": True, "keysUnlinked": 3}
    assert await sql(versions, f"SELECT 1 FROM pg_namespace WHERE nspname = '{old}'") == []
    assert await redis_keys(versions, f"{old}:*") == set()
    assert await redis_keys(versions, live_key) == {live_key}
    again = ok(cli(versions, "drop-read-model", "--schema", old, "--grace-seconds", "0"))
    assert again == {"schema": old, "dropped": False, "keysUnlinked": 0}


async def test_a_projection_given_an_unmigrated_version_waits_unready_until_it_is_migrated(
    versions: Any, sample_events_path: Path
) -> None:
    schema, group = versions.schema, f"{versions.group}-shadow"
    await versions.publish(read_messages(sample_events_path))
    port = free_port()
    versions.projection(READ_MODEL_SCHEMA=schema, CONSUMER_GROUP=group, OPS_PORT=str(port))

    async def readyz() -> httpx.Response | None:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return await client.get(f"http://127.0.0.1:{port}/readyz")
        except httpx.TransportError:
            return None

    async def says_unmigrated() -> bool:
        response = await readyz()
        return response is not None and f"READ_MODEL_SCHEMA={schema}" in response.text

    await eventually(says_unmigrated, 30, "/readyz to name the missing migration")
    assert (await readyz()).status_code == 503  # type: ignore[union-attr]
    ok(cli(versions, "migrate", READ_MODEL_SCHEMA=schema))
    await versions.wait_caught_up(group=group, schema=schema)
    assert (await versions.read_model()).orders == {}  # public untouched
