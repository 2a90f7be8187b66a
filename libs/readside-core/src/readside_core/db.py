"""Creating the async SQLAlchemy engine (asyncpg) from the seed's DATABASE_URL.

An engine serves one read-model version: its schema is the connections' `search_path`, set
when each connection opens, so every statement (text SQL included) reads and writes that
version's tables at no extra round trip.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy.ext.asyncio as sa_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

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
    url: str, *, schema: str = PUBLIC_SCHEMA, pool_size: int = 10, **kwargs: Any
) -> AsyncEngine:
    """An engine on one read-model version (`schema`) whose JSONB columns go through msgspec
    (Decimals stay exact JSON numbers). InvalidSchemaName for a bad schema name."""
    connect_args = dict(kwargs.pop("connect_args", {}))
    settings = dict(connect_args.get("server_settings", {}))
    # Only this schema: a version missing a table fails loudly instead of reading public's.
    settings["search_path"] = f'"{check_schema_name(schema)}"'
    connect_args["server_settings"] = settings
    # Looked up at call time: tracing (readside_core.telemetry) wraps the factory, so engines
    # created after it is set up are traced too.
    return sa_asyncio.create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=_encode_json,
        json_deserializer=_json_decoder.decode,
        connect_args=connect_args,
        **kwargs,
    )
