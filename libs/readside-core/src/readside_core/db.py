"""Creating the async SQLAlchemy engine (asyncpg) from the seed's DATABASE_URL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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


def create_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    """An engine whose JSONB columns go through msgspec (Decimals stay exact JSON numbers)."""
    return create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=_encode_json,
        json_deserializer=_json_decoder.decode,
        **kwargs,
    )
