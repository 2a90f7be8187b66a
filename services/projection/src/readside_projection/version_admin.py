"""Promoting and dropping read-model versions (`promote`, `drop-read-model`, `read-model-status`).

Both commands lock the live pointer table first, so a promote and a drop never interleave:
a drop can never remove the version a concurrent promote makes live. Promote changes the
pointer in one transaction, then publishes a swap message so query pods switch at once
(without it they switch at their next poll). Drop removes the schema and its Redis namespace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from readside_core.cache import INVALIDATION_CHANNEL, Invalidation, invalidation_encoder
from readside_core.connection_security import redis_kwargs
from readside_core.db import create_engine
from readside_core.read_model_version import (
    POINTER_TABLE,
    PUBLIC_SCHEMA,
    READ_MODEL_TABLES,
    ReadModelVersion,
    check_schema_name,
    live_pointer,
    missing_tables,
    pointer_table_exists,
    read_live_version,
    read_model_version,
)
from readside_projection.reset import unlink_cache_keys

log = logging.getLogger(__name__)
LOCK_TIMEOUT = "30s"


class VersionRefused(RuntimeError):
    """The command cannot do what was asked as things stand; the message says what to change."""


class CacheNotCleaned(RuntimeError):
    """The database part is done, the Redis part failed: running the command again finishes it."""


async def _lock_pointer(conn: AsyncConnection) -> None:
    if not await pointer_table_exists(conn):
        raise VersionRefused(
            f"{PUBLIC_SCHEMA}.{POINTER_TABLE} does not exist: run `readside-projection migrate` "
            "(without READ_MODEL_SCHEMA) first"
        )
    await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    await conn.execute(
        text(f"LOCK TABLE {PUBLIC_SCHEMA}.{POINTER_TABLE} IN SHARE ROW EXCLUSIVE MODE")
    )


async def _schema_revision(conn: AsyncConnection, schema: str) -> str | None:
    table = await conn.scalar(text(f"SELECT to_regclass('\"{schema}\".alembic_version')"))
    if table is None:
        return None
    revision = await conn.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version'))
    return None if revision is None else str(revision)


async def promote(
    database_url: str,
    redis_url: str | None,
    schema: str,
    consumer_group: str,
    head_revision: str | None,
) -> dict[str, Any]:
    """Make `schema` (with `consumer_group`) the live read model; idempotent."""
    check_schema_name(schema)
    if not consumer_group.strip():
        raise VersionRefused("--consumer-group is empty: name the group that projects the schema")
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await _lock_pointer(conn)
            await _check_migrated(conn, schema, head_revision)
            before = await read_live_version(conn)
            changed = (before.schema, before.consumer_group) != (schema, consumer_group)
            if changed:
                await _move_pointer(conn, schema, consumer_group)
            stored = await _stored_partitions(conn, schema, consumer_group)
    finally:
        await engine.dispose()
    if stored == 0:
        log.warning(
            "consumer group %s has no offsets stored in %s: a projection following it starts "
            "from the earliest offsets",
            consumer_group,
            schema,
        )
    notified = await _publish_swap(redis_url, schema) if redis_url else False
    return {
        "schema": schema,
        "consumerGroup": consumer_group,
        "previousSchema": before.schema,
        "previousConsumerGroup": before.consumer_group,
        "changed": changed,
        "storedPartitions": stored,
        "queryPodsNotified": notified,
    }


async def _check_migrated(conn: AsyncConnection, schema: str, head_revision: str | None) -> None:
    """VersionRefused unless `schema` has every table, at this image's migration head."""
    missing = await missing_tables(conn, schema)
    if missing:
        raise VersionRefused(
            f"read model {schema} has no table {', '.join(missing)}: run "
            f"`readside-projection migrate` with READ_MODEL_SCHEMA={schema} first"
        )
    revision = await _schema_revision(conn, schema)
    if head_revision is not None and revision != head_revision:
        raise VersionRefused(
            f"read model {schema} is at migration {revision}, this image's head is "
            f"{head_revision}: run `readside-projection migrate` with "
            f"READ_MODEL_SCHEMA={schema} first"
        )


async def _move_pointer(conn: AsyncConnection, schema: str, consumer_group: str) -> None:
    values = {"schema_name": schema, "consumer_group": consumer_group}
    statement = insert(live_pointer).values(id=True, **values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_={**values, "promoted_at": text("now()")}
        )
    )


async def _stored_partitions(conn: AsyncConnection, schema: str, group: str) -> int:
    count = await conn.scalar(
        text(f'SELECT count(*) FROM "{schema}".consumer_offsets WHERE consumer_group = :group'),
        {"group": group},
    )
    return int(count or 0)


async def _publish_swap(redis_url: str, schema: str) -> bool:
    client = aioredis.from_url(
        redis_url, socket_timeout=5, socket_connect_timeout=5, **redis_kwargs(redis_url)
    )
    message = Invalidation(orders=[], scopes=[], schema=schema, swap=True)
    try:
        await client.publish(INVALIDATION_CHANNEL, invalidation_encoder.encode(message))
    except (OSError, aioredis.RedisError) as exc:
        log.warning(
            "the pointer moved but the swap message was not sent (%s): query pods switch at "
            "their next poll (READ_MODEL_POLL_SECONDS)",
            exc,
        )
        return False
    finally:
        await client.aclose()
    return True


async def _seconds_since_promote(conn: AsyncConnection) -> float | None:
    if not await pointer_table_exists(conn):
        return None
    age = await conn.scalar(
        text(f"SELECT extract(epoch FROM now() - promoted_at) FROM {PUBLIC_SCHEMA}.{POINTER_TABLE}")
    )
    return None if age is None else float(age)


async def drop_read_model(
    database_url: str, redis_url: str | None, schema: str, grace_seconds: float = 10.0
) -> dict[str, Any]:
    """Drop a version that is not live, and its Redis namespace; absent already = done.

    Within `grace_seconds` of a promote it waits first: query pods that missed the swap
    message may still be serving the previous version until their next poll.
    """
    check_schema_name(schema)
    if schema == PUBLIC_SCHEMA:
        raise VersionRefused("public is the default read model and is never dropped")
    engine = create_engine(database_url, pool_size=1)
    try:
        exists = await _drop_schema(engine, schema, grace_seconds)
    finally:
        await engine.dispose()
    unlinked = 0
    if redis_url:
        try:
            unlinked = await unlink_cache_keys(redis_url, read_model_version(schema))
        except (OSError, aioredis.RedisError) as exc:
            raise CacheNotCleaned(
                f"schema {schema} {'dropped' if exists else 'was already absent'}, but its cache "
                f"keys ({schema}:*) could not be removed: {exc}; run the command again"
            ) from exc
    return {"schema": schema, "dropped": bool(exists), "keysUnlinked": unlinked}


async def _drop_schema(engine: AsyncEngine, schema: str, grace_seconds: float) -> bool:
    """Drop the schema unless it is live (after the grace since a promote); False if it
    did not exist."""
    async with engine.connect() as conn:
        _refuse_if_live(await read_live_version(conn), schema)
        since = await _seconds_since_promote(conn)
    if since is not None and since < grace_seconds:
        log.info("promoted %.1fs ago: waiting %.1fs before dropping", since, grace_seconds - since)
        await asyncio.sleep(grace_seconds - since)
    async with engine.begin() as conn:
        await _lock_pointer(conn)
        _refuse_if_live(await read_live_version(conn), schema)
        exists = await conn.scalar(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
        )
        if exists:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    return bool(exists)


def _refuse_if_live(live: ReadModelVersion, schema: str) -> None:
    if live.schema == schema:
        raise VersionRefused(f"read model {schema} is the live one: promote another version first")


async def read_model_status(database_url: str, configured_group: str) -> dict[str, Any]:
    """The live version and group, and every schema holding a read model."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            live: ReadModelVersion = await read_live_version(conn)
            rows = await conn.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables "
                    "WHERE table_name = :table ORDER BY 1"
                ),
                {"table": READ_MODEL_TABLES[0]},
            )
            versions = [name for (name,) in rows]
    finally:
        await engine.dispose()
    return {
        "schema": live.schema,
        "consumerGroup": live.consumer_group or configured_group,
        "promotedAt": live.promoted_at.isoformat() if live.promoted_at else None,
        "pointer": live.consumer_group is not None,
        "versions": versions,
    }
