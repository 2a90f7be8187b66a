"""PostgreSQL side of the projection (asyncpg, no ORM): load views, write plans, fence offsets.

Every write of a plan is ONE statement, so one round trip and its own transaction: the next
offsets of every partition in the plan, the orders created (a bulk insert), the orders
changed (a bulk update), what the plan adds to the summaries of the customers touched
(readside_core.summaries) and the CTEs of every registered read model
(readside_core.read_models: the products' deltas). The offsets are fenced: the statement
fails, and nothing of it commits, if another consumer moved them since this one stored them,
so a consumer that lost its partitions in a rebalance can never apply a batch twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

import asyncpg

from readside_core.repository import view_from_row
from readside_core.summaries import fold_summaries, summary_arguments, summary_upsert
from readside_core.views import OrderView, json_encoder
from readside_projection.batch import READ_MODELS, BatchPlan, TopicPartition


class OffsetsFenced(RuntimeError):
    """Stored offsets moved under this consumer: another member owns the partition now."""


class WriteConflict(RuntimeError):
    """An order the plan creates is stored already (order_id and order_number are UNIQUE):
    taken to be new without a lookup (consumer.py), or its number stored by another member a
    moment ago. The plan is dropped and its records are read again with lookups (a duplicate
    is then skipped, a number owned by another order dead-lettered)."""


_ORDER_COLUMNS = (
    "order_id, customer_id, order_number, status, total_amount, currency, items, "
    "shipping_address, tracking_number, carrier, created_at, updated_at, version, event_ids"
)
_LOAD_VIEWS = f"SELECT {_ORDER_COLUMNS} FROM order_views WHERE order_id = ANY($1::uuid[])"
_NUMBER_OWNERS = (
    "SELECT order_number, order_id FROM order_views WHERE order_number = ANY($1::text[])"
)

# The statement's parameters: $1 the group, $2-$5 the offsets, then each part's arrays.
_OFFSETS = """
    wanted AS (
        SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[])
                 AS w(topic, partition, next_offset, expected)),
    moved AS (
        UPDATE consumer_offsets c SET next_offset = w.next_offset, updated_at = now()
        FROM wanted w
        WHERE c.consumer_group = $1 AND c.topic = w.topic AND c.partition = w.partition
          AND c.next_offset = w.expected
        RETURNING c.partition),
    added AS (
        INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
        SELECT $1, w.topic, w.partition, w.next_offset FROM wanted w WHERE w.expected IS NULL
        ON CONFLICT DO NOTHING
        RETURNING partition)"""

_INSERT_ORDERS = f"""
    created_orders AS (
        INSERT INTO order_views ({_ORDER_COLUMNS})
        SELECT o.order_id, o.customer_id, o.order_number, o.status, o.total_amount, o.currency,
               o.items::jsonb, o.shipping_address::jsonb, o.tracking_number, o.carrier,
               o.created_at, o.updated_at, o.version, o.event_ids::uuid[]
        FROM unnest($6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::numeric[], $11::text[],
                    $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[],
                    $17::timestamptz[], $18::bigint[], $19::text[])
             AS o(order_id, customer_id, order_number, status, total_amount, currency, items,
                  shipping_address, tracking_number, carrier, created_at, updated_at, version,
                  event_ids))"""

# Events only ever change these columns. Not a HOT update all the same (status is indexed and
# changes): every update adds entries to each of the table's indexes, the GIN one on items
# too (about 7 of PostgreSQL's ~37 us per event; docs/capacity.md).
_UPDATE_ORDERS = """
    updated_orders AS (
        UPDATE order_views o SET status = u.status, tracking_number = u.tracking_number,
               carrier = u.carrier, updated_at = u.updated_at, version = u.version,
               event_ids = u.event_ids::uuid[]
        FROM unnest($20::uuid[], $21::text[], $22::text[], $23::text[], $24::timestamptz[],
                    $25::bigint[], $26::text[])
             AS u(order_id, status, tracking_number, carrier, updated_at, version, event_ids)
        WHERE o.order_id = u.order_id)"""

# Fewer offset rows moved or added than partitions in the plan: another member moved one.
# The function (migration 0004) raises, and the whole statement rolls back.
_FENCE = """
SELECT CASE WHEN (SELECT count(*) FROM moved) + (SELECT count(*) FROM added)
                 = (SELECT count(*) FROM wanted)
            THEN true
            ELSE readside_offsets_fenced(array_to_string($3::int[], ','))
       END"""
_FENCED_SQLSTATE = "RSF01"


def _batch_statement() -> str:
    parts = [_OFFSETS, _INSERT_ORDERS, _UPDATE_ORDERS, f"summaries AS ({summary_upsert(27)})"]
    first = 34
    for model in READ_MODELS:
        ctes, count = model.ctes(first)
        parts.append(ctes)
        first += count
    return "WITH " + ",".join(parts) + _FENCE


_WRITE_BATCH = _batch_statement()


async def load_views(conn: asyncpg.Connection, order_ids: Iterable[UUID]) -> dict[UUID, OrderView]:
    ids = list(order_ids)
    if not ids:
        return {}
    return {row["order_id"]: view_from_row(row) for row in await conn.fetch(_LOAD_VIEWS, ids)}


async def number_owners(conn: asyncpg.Connection, numbers: Iterable[str]) -> dict[str, UUID]:
    """The orders that own these order numbers already."""
    wanted = list(numbers)
    if not wanted:
        return {}
    return {row[0]: row[1] for row in await conn.fetch(_NUMBER_OWNERS, wanted)}


def _event_ids(view: OrderView) -> str:
    """The view's event ids as a uuid[] literal (PostgreSQL reads a UUID without hyphens)."""
    ids = view.event_ids.hex()
    return "{" + ",".join(ids[at : at + 32] for at in range(0, len(ids), 32)) + "}"


def _json(value: object) -> str | None:
    return None if value is None else json_encoder.encode(value).decode()


def _insert_args(views: list[OrderView]) -> list[list[object]]:
    return [
        [v.order_id for v in views],
        [v.customer_id for v in views],
        [v.order_number for v in views],
        [v.status for v in views],
        [v.total_amount for v in views],
        [v.currency for v in views],
        [_json(v.items) for v in views],
        [_json(v.shipping_address) for v in views],
        [v.tracking_number for v in views],
        [v.carrier for v in views],
        [v.created_at for v in views],
        [v.updated_at for v in views],
        [v.version for v in views],
        [_event_ids(v) for v in views],
    ]


def _update_args(views: list[OrderView]) -> list[list[object]]:
    return [
        [v.order_id for v in views],
        [v.status for v in views],
        [v.tracking_number for v in views],
        [v.carrier for v in views],
        [v.updated_at for v in views],
        [v.version for v in views],
        [_event_ids(v) for v in views],
    ]


async def write_plan(
    conn: asyncpg.Connection,
    group: str,
    plan: BatchPlan,
    expected: Mapping[TopicPartition, int | None],
) -> None:
    """Write the plan's rows and offsets in one statement (OffsetsFenced, WriteConflict)."""
    new = [v for order_id, v in plan.changed.items() if order_id in plan.created]
    updated = [v for order_id, v in plan.changed.items() if order_id not in plan.created]
    parts = list(plan.next_offsets)
    changes = plan.changes()
    folded = plan.folded or [model.fold(changes) for model in READ_MODELS]
    models = (a for model, f in zip(READ_MODELS, folded, strict=True) for a in model.arguments(f))
    try:
        await conn.execute(
            _WRITE_BATCH,
            group,
            [t for t, _ in parts],
            [p for _, p in parts],
            [plan.next_offsets[tp] for tp in parts],
            [expected.get(tp) for tp in parts],
            *_insert_args(new),
            *_update_args(updated),
            *summary_arguments(fold_summaries(changes)),
            *models,
        )
    except asyncpg.UniqueViolationError as exc:
        raise WriteConflict(str(exc)) from exc
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == _FENCED_SQLSTATE:
            raise OffsetsFenced(
                f"stored offsets of {sorted(parts)} are no longer {dict(expected)} in "
                "PostgreSQL: another member owns a partition now"
            ) from exc
        raise


async def read_offsets(conn: asyncpg.Connection, group: str, topic: str) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets"
        " WHERE consumer_group = $1 AND topic = $2",
        group,
        topic,
    )
    return {row[0]: row[1] for row in rows}
