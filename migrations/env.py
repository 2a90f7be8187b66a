"""Alembic environment: runs the migrations over asyncpg against DATABASE_URL.

A schema other than public (the Config attribute `schema`, set by `readside-projection
migrate` from READ_MODEL_SCHEMA; or `-x schema=NAME`; or READSIDE_SCHEMA) creates the read
model in that PostgreSQL schema, with its own alembic_version table: that is how a versioned
read model is built beside the live one. Migrations see the schema they run in as the Config
attribute `read_model_schema` (public-only objects, like the live pointer, check it).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from readside_core.db import create_engine
from readside_core.read_model_version import PUBLIC_SCHEMA, InvalidSchemaName, check_schema_name


def _schema() -> str | None:
    """The read-model schema to migrate; None for public."""
    schema = (
        context.config.attributes.get("schema")
        or context.get_x_argument(as_dictionary=True).get("schema")
        or os.environ.get("READSIDE_SCHEMA")
    )
    if not schema or schema == PUBLIC_SCHEMA:
        return None
    try:
        return check_schema_name(schema)
    except InvalidSchemaName as exc:
        raise SystemExit(str(exc)) from None


def _run(connection: Connection) -> None:
    schema = _schema()
    context.config.attributes["read_model_schema"] = schema or PUBLIC_SCHEMA
    if schema:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        version_table_schema=schema,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set: point it at the read-model PostgreSQL database")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
asyncio.run(_run_online())
