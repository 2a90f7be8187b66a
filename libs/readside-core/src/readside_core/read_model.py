"""Read-model versions: a version is a PostgreSQL schema holding the read-model tables.

`public` is the default version. Another version (a blue-green rebuild) is the same tables,
and its own Alembic version table, in another schema. Which version is live is one row of
`public.readside_live_read_model` (the *live pointer*): its schema and the consumer group
of the projection that keeps it current. No row (or no table yet) means `public` and the
configured CONSUMER_GROUP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    MetaData,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

PUBLIC_SCHEMA: Final = "public"
POINTER_TABLE: Final = "readside_live_read_model"
READ_MODEL_TABLES: Final = ("order_views", "customer_summaries", "consumer_offsets")

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The first segment of the keys `public` owns in Redis: another version's key prefix
# (`{schema}:`) must never be mistaken for one of them.
_PUBLIC_KEY_HEADS: Final = frozenset({"order", "order_number", "page", "gen", "number"})


class InvalidSchemaName(ValueError):
    """A read-model schema name that is not accepted; the message says why."""


def check_schema_name(name: str) -> str:
    """`name` if it can name a read-model version, else InvalidSchemaName saying why."""
    if not _SCHEMA_NAME.fullmatch(name):
        raise InvalidSchemaName(
            f"read-model schema {name!r} is not a lowercase identifier: use 1 to 63 of a-z, "
            "0-9 and _, not starting with a digit (for example rm_replay_2)"
        )
    if name.startswith("pg_") or name == "information_schema":
        raise InvalidSchemaName(f"read-model schema {name!r} is reserved by PostgreSQL")
    if name in _PUBLIC_KEY_HEADS:
        raise InvalidSchemaName(
            f"read-model schema {name!r} would share Redis keys with public: choose another name"
        )
    return name


live_pointer = Table(
    POINTER_TABLE,
    MetaData(schema=PUBLIC_SCHEMA),
    Column("id", Boolean, primary_key=True, server_default=text("true")),
    Column("schema_name", Text, nullable=False),
    Column("consumer_group", Text, nullable=False),
    Column("promoted_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("id", name="readside_live_read_model_one_row"),
)


@dataclass(frozen=True, slots=True)
class LiveReadModel:
    """The live version: its schema, and its projection's consumer group (None: no pointer)."""

    schema: str
    consumer_group: str | None = None
    promoted_at: datetime | None = None


DEFAULT_LIVE = LiveReadModel(PUBLIC_SCHEMA)


async def pointer_table_exists(conn: AsyncConnection) -> bool:
    found = await conn.scalar(text(f"SELECT to_regclass('{PUBLIC_SCHEMA}.{POINTER_TABLE}')"))
    return found is not None


async def read_live_read_model(conn: AsyncConnection) -> LiveReadModel:
    """The live version as the pointer says; DEFAULT_LIVE when it has no row (or no table)."""
    # Checked first rather than caught: the query service reads this every few seconds, and a
    # failed statement would be logged by PostgreSQL each time until `migrate` has run.
    if not await pointer_table_exists(conn):
        return DEFAULT_LIVE
    c = live_pointer.c
    row = (await conn.execute(select(c.schema_name, c.consumer_group, c.promoted_at))).first()
    if row is None:
        return DEFAULT_LIVE
    return LiveReadModel(row.schema_name, row.consumer_group, row.promoted_at)


async def missing_tables(conn: AsyncConnection, schema: str) -> list[str]:
    """The read-model tables absent from `schema` (all of them when the schema does not exist)."""
    rows = await conn.execute(
        text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = :schema AND table_name = ANY(:names)"
        ),
        {"schema": schema, "names": list(READ_MODEL_TABLES)},
    )
    present = {name for (name,) in rows}
    return [name for name in READ_MODEL_TABLES if name not in present]
