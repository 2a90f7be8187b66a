"""Creating the async SQLAlchemy engine (asyncpg) from the seed's DATABASE_URL.

An engine serves one read-model version: its schema is the connections' `search_path`, set
when each connection opens, so every statement (text SQL included) reads and writes that
version's tables at no extra round trip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import sqlalchemy.ext.asyncio as sa_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.connection_security import PostgresSecurity
from readside_core.read_model_version import PUBLIC_SCHEMA, check_schema_name
from readside_core.views import json_encoder


def async_database_url(url: str) -> str:
    """Accept the seed's `postgres://` and plain `postgresql://` URLs; use the asyncpg driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL {url!r} is not a URL like postgresql://user:pw@host/db")
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"DATABASE_URL scheme {scheme!r} is not PostgreSQL (use postgresql://)")


# JSON numbers in JSONB come back as Decimal: amounts inside items stay exact.
_json_decoder = msgspec.json.Decoder(float_hook=Decimal)


def _encode_json(value: Any) -> str:
    return json_encoder.encode(value).decode()


def create_engine(
    url: str,
    *,
    schema: str = PUBLIC_SCHEMA,
    pool_size: int = 10,
    max_overflow: int | None = None,
    pre_ping: bool = True,
    security: PostgresSecurity | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An engine on one read-model version (`schema`) whose JSONB columns go through msgspec
    (Decimals stay exact JSON numbers). InvalidSchemaName for a bad schema name. TLS and the
    password: `security`, or when None the environment's (PGSSLMODE..., connection_security).

    `pre_ping` checks each connection with a round trip when it is taken from the pool. A
    hot path leaves it off: after PostgreSQL restarts, the first statement on a dead
    connection fails, and SQLAlchemy then invalidates every connection of the pool at once.

    `max_overflow` (default: `pool_size`) connections more are opened when all are busy and
    closed again when handed back while the pool is full: a service under steady
    concurrency above `pool_size` would connect (TLS, type introspection, a new backend
    process) for every few requests, so a hot path sets it to 0 and queues instead."""
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.update(_security(url, security).connect_kwargs())
    settings = dict(connect_args.get("server_settings", {}))
    # Only this schema: a version missing a table fails loudly instead of reading public's.
    settings["search_path"] = f'"{check_schema_name(schema)}"'
    connect_args["server_settings"] = settings
    # Looked up at call time: tracing (readside_core.telemetry) wraps the factory, so engines
    # created after it is set up are traced too.
    return sa_asyncio.create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=pre_ping,
        json_serializer=_encode_json,
        json_deserializer=_json_decoder.decode,
        connect_args=connect_args,
        **kwargs,
    )


def _security(url: str, security: PostgresSecurity | None) -> PostgresSecurity:
    return PostgresSecurity.from_env(database_url=url) if security is None else security


def plain_database_url(url: str) -> str:
    """DATABASE_URL as asyncpg itself takes it (`postgresql://`), for the projection's hot path."""
    return "postgresql://" + async_database_url(url).partition("://")[2]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_encode_json, decoder=_json_decoder.decode, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset on release: every user of the pool closes its own transaction."""


@asynccontextmanager
async def pooled(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of `pool` (create_pool's) for one unit of work. If the work fails, the
    connection is closed rather than handed back: this pool does not reset connections, and
    a statement cut short (PostgreSQL restarting, a timeout) can leave its connection
    mid-protocol, so that the next user fails with "another operation is in progress"."""
    conn = await pool.acquire()
    try:
        yield conn
    except BaseException:
        conn.terminate()
        raise
    finally:
        await pool.release(conn)


async def create_pool(
    url: str,
    *,
    schema: str = PUBLIC_SCHEMA,
    size: int = 2,
    server_settings: dict[str, str] | None = None,
    security: PostgresSecurity | None = None,
) -> asyncpg.Pool:
    """An asyncpg pool on one read-model version, JSONB through msgspec (exact Decimals),
    without SQLAlchemy: the projection's per-batch statements pay no ORM or pool overhead.
    Connections are not reset on release (each user finishes its own transaction). TLS and
    the password as create_engine's."""
    settings = {"search_path": f'"{check_schema_name(schema)}"', **(server_settings or {})}
    return await asyncpg.create_pool(
        plain_database_url(url),
        min_size=0,  # lazy: the pool exists while PostgreSQL is still away
        max_size=size,
        init=_init_connection,
        server_settings=settings,
        reset=_keep_session,
        **_security(url, security).connect_kwargs(),
    )
