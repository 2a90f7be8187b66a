"""Which read-model version this process writes: READ_MODEL_SCHEMA, or the live pointer.

A shadow projection (a blue-green rebuild) is given READ_MODEL_SCHEMA and its own
CONSUMER_GROUP. The live projection is given neither schema nor (necessarily) the right group:
it reads the live pointer when it starts, so after a swap a plain restart (or a `helm upgrade`
that resets its environment) follows the new version and its group.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from readside_core.connection_errors import explain_postgres_error
from readside_core.db import create_engine
from readside_core.read_model_version import (
    PUBLIC_SCHEMA,
    ReadModelVersion,
    missing_tables,
    read_live_version,
)
from readside_projection.ops import Health
from readside_projection.settings import ProjectionSettings

log = logging.getLogger(__name__)


async def read_live_pointer(database_url: str) -> ReadModelVersion:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await read_live_version(conn)
    finally:
        await engine.dispose()


def follow(settings: ProjectionSettings, live: ReadModelVersion) -> ProjectionSettings:
    """The settings with the version and group to use (READ_MODEL_SCHEMA, if set, wins)."""
    if settings.read_model_schema is not None:
        return settings
    return dataclasses.replace(
        settings,
        read_model_schema=live.schema,
        consumer_group=live.consumer_group or settings.consumer_group,
    )


async def resolve(settings: ProjectionSettings) -> ProjectionSettings:
    """`follow` the live pointer, read once (errors propagate: for the one-shot commands)."""
    if settings.read_model_schema is not None:
        return settings
    return follow(settings, await read_live_pointer(settings.database_url))


async def _resolve_ready(settings: ProjectionSettings) -> tuple[ProjectionSettings, str | None]:
    """`resolve`, and what keeps the version from being written (None: nothing)."""
    resolved = await resolve(settings)
    schema = resolved.read_model_schema or PUBLIC_SCHEMA
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            missing = await missing_tables(conn, schema)
    finally:
        await engine.dispose()
    if not missing:
        return resolved, None
    return resolved, (
        f"read model {schema} has no table {', '.join(missing)}: run "
        f"`readside-projection migrate` with READ_MODEL_SCHEMA={schema}"
    )


async def resolve_with_retry(
    settings: ProjectionSettings, health: Health, stop: asyncio.Event
) -> ProjectionSettings | None:
    """`resolve`, retried while PostgreSQL is away or the version is not migrated yet (a
    migrate Job may be running); None if asked to stop meanwhile."""
    delay = 0.5
    while not stop.is_set():
        try:
            resolved, problem = await _resolve_ready(settings)
        except (OSError, TimeoutError, SQLAlchemyError, asyncpg.PostgresError) as exc:
            problem = f"cannot read the live read-model pointer: {explain_postgres_error(exc)}"
        if problem is None:
            origin = "READ_MODEL_SCHEMA" if settings.read_model_schema else "the live pointer"
            log.info(
                "writing read model %s with consumer group %s (from %s)",
                resolved.read_model_schema,
                resolved.consumer_group,
                origin,
            )
            return resolved
        if problem != health.database:  # once per cause, not at every retry
            log.error("%s (retrying with backoff up to %.0fs)", problem, settings.retry_max_seconds)
        health.database = problem
        await asyncio.sleep(delay)
        delay = min(delay * 2, settings.retry_max_seconds)
    return None
