"""Alembic environment: runs the migrations over asyncpg against DATABASE_URL.

An optional `-x schema=NAME` (or READSIDE_SCHEMA) creates the read model in another
PostgreSQL schema: that is how a versioned read model is built beside the live one.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from readside_core.db import create_engine


def _schema() -> str | None:
    return context.get_x_argument(as_dictionary=True).get("schema") or os.environ.get(
        "READSIDE_SCHEMA"
    )


def _run(connection: Connection) -> None:
    schema = _schema()
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
