"""Read-model versions: everything that names one, in PostgreSQL and in both caches.

A version is a PostgreSQL schema holding the read-model tables. `public` is the default
version. Another version (a blue-green rebuild) is the same tables,
and its own Alembic version table, in another schema. Which version is live is one row of
`public.readside_live_read_model` (the *live pointer*): its schema and the consumer group
of the projection that keeps it current. No row (or no table yet) means `public` and the
configured CONSUMER_GROUP.

Cache keys (Redis and the query service's in-process cache use the same ones). `public` keeps
the seed's keys; every other version has the same keys behind the prefix `{schema}:`
(`rm_2:order:{uuid}`, `rm_2:gen:customer:{uuid}`...), so a shadow rebuild never touches the
live entries and after a swap no entry of the old version can be read:

| entry | key |
|---|---|
| order body | `{prefix}order:{uuid}` |
| order number -> id | `{prefix}order_number:{number}` |
| generation of a scope | `{prefix}gen:{scope}` |
| Redis page | `{prefix}page:{scope}:{generation}:{query}` |
| in-process page | `{prefix}page:{scope}:{query}` (evicted with its scope, no generation) |
| in-process scope | `{prefix}{scope}` |

A scope is `customer:{uuid}` or `status:{STATUS}`, or one a registered read model declares
(`product:{uuid}`, `products`); a customer's summary is the page `summary` of its customer
scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

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

from readside_core.read_models import registered_tables

PUBLIC_SCHEMA: Final = "public"
POINTER_TABLE: Final = "readside_live_read_model"
# The core tables, then every registered read model's (readside_core.read_models).
READ_MODEL_TABLES: Final = (
    "order_views",
    "customer_summaries",
    *registered_tables(),
    "consumer_offsets",
)

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


SUMMARY_QUERY: Final = "summary"


def customer_scope(customer_id: UUID | str) -> str:
    return f"customer:{customer_id}"


def status_scope(status: str) -> str:
    return f"status:{status}"


@dataclass(frozen=True, slots=True)
class ReadModelVersion:
    """One read-model version: its schema, its projection's consumer group (None: not known,
    e.g. no live pointer yet), when it was promoted, and every cache key it owns.

    Build one with `read_model_version(schema)` (checks the name) or read the live one with
    `read_live_version`.
    """

    schema: str
    consumer_group: str | None = None
    promoted_at: datetime | None = None

    @property
    def prefix(self) -> str:
        """ "" for public, "{schema}:" for any other version."""
        return "" if self.schema == PUBLIC_SCHEMA else f"{self.schema}:"

    @property
    def order_key_head(self) -> str:
        """An order key without its id (the query Edge appends the id from the path)."""
        return f"{self.prefix}order:"

    def order_key(self, order_id: UUID | str) -> str:
        return f"{self.order_key_head}{order_id}"

    def number_key(self, order_number: str) -> str:
        return f"{self.prefix}order_number:{order_number}"

    def generation_key(self, scope: str) -> str:
        return f"{self.prefix}gen:{scope}"

    def page_head(self, scope: str) -> str:
        """A Redis page key up to its generation (GET_PAGE appends `{generation}:{query}`)."""
        return f"{self.prefix}page:{scope}:"

    def page_key(self, scope: str, generation: int, query: str) -> str:
        return f"{self.page_head(scope)}{generation}:{query}"

    def local_page_key(self, scope: str, query: str) -> str:
        """The in-process key of a page: no generation, it is evicted with its scope."""
        return f"{self.page_head(scope)}{query}"

    def local_scope(self, scope: str) -> str:
        return f"{self.prefix}{scope}"

    def key_patterns(self) -> tuple[str, ...]:
        """SCAN patterns matching every Redis key of this version, and only those."""
        if not self.prefix:
            return ("order:*", "order_number:*", "page:*", "gen:*")
        return (f"{self.prefix}*",)


PUBLIC: Final = ReadModelVersion(PUBLIC_SCHEMA)


def read_model_version(schema: str, consumer_group: str | None = None) -> ReadModelVersion:
    """The version named `schema` (InvalidSchemaName for a name that cannot be one)."""
    if schema == PUBLIC_SCHEMA and consumer_group is None:
        return PUBLIC
    return ReadModelVersion(check_schema_name(schema), consumer_group)


async def pointer_table_exists(conn: AsyncConnection) -> bool:
    found = await conn.scalar(text(f"SELECT to_regclass('{PUBLIC_SCHEMA}.{POINTER_TABLE}')"))
    return found is not None


async def read_live_version(conn: AsyncConnection) -> ReadModelVersion:
    """The live version as the pointer says; PUBLIC when it has no row (or no table)."""
    # Checked first rather than caught: the query service reads this every few seconds, and a
    # failed statement would be logged by PostgreSQL each time until `migrate` has run.
    if not await pointer_table_exists(conn):
        return PUBLIC
    c = live_pointer.c
    row = (await conn.execute(select(c.schema_name, c.consumer_group, c.promoted_at))).first()
    if row is None:
        return PUBLIC
    return ReadModelVersion(row.schema_name, row.consumer_group, row.promoted_at)


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
