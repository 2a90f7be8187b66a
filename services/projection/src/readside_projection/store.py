"""PostgreSQL side of the projection (asyncpg, no ORM): load views, write plans, fence offsets.

Every write of a plan happens in ONE transaction: the orders created (one bulk insert), the
orders changed (one bulk update), the summaries of the customers touched (recomputed from
order_views), the statement of every registered read model (readside_core.read_models: the
products' deltas), and the next offsets of every partition in the plan. The offsets are fenced:
the transaction fails if another consumer moved them since this one stored them, so a
consumer that lost its partitions in a rebalance can never apply a batch twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

import asyncpg

from readside_core.repository import view_from_row
from readside_core.views import OrderView, json_encoder
from readside_projection.batch import READ_MODELS, BatchPlan, TopicPartition


class OffsetsFenced(RuntimeError):
    """Stored offsets moved under this consumer: another member owns the partition now."""


class WriteConflict(RuntimeError):
    """Another member stored an order number of this plan a moment ago (order_number is
    UNIQUE): the plan is dropped and its records are read again, then dead-lettered."""


_ORDER_COLUMNS = (
    "order_id, customer_id, order_number, status, total_amount, currency, items, "
    "shipping_address, tracking_number, carrier, created_at, updated_at, version, event_ids"
)
_LOAD_VIEWS = f"SELECT {_ORDER_COLUMNS} FROM order_views WHERE order_id = ANY($1::uuid[])"
_NUMBER_OWNERS = (
    "SELECT order_number, order_id FROM order_views WHERE order_number = ANY($1::text[])"
)

_INSERT_ORDERS = f"""
    INSERT INTO order_views ({_ORDER_COLUMNS})
    SELECT o.order_id, o.customer_id, o.order_number, o.status, o.total_amount, o.currency,
           o.items::jsonb, o.shipping_address::jsonb, o.tracking_number, o.carrier,
           o.created_at, o.updated_at, o.version, o.event_ids::uuid[]
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::numeric[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
                $12::timestamptz[], $13::bigint[], $14::text[])
         AS o(order_id, customer_id, order_number, status, total_amount, currency, items,
              shipping_address, tracking_number, carrier, created_at, updated_at, version,
              event_ids)
"""

# Events only ever change these columns: an update leaves items (and its GIN index) alone.
_UPDATE_ORDERS = """
    UPDATE order_views o SET status = u.status, tracking_number = u.tracking_number,
           carrier = u.carrier, updated_at = u.updated_at, version = u.version,
           event_ids = u.event_ids::uuid[]
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                $6::bigint[], $7::text[])
         AS u(order_id, status, tracking_number, carrier, updated_at, version, event_ids)
    WHERE o.order_id = u.order_id
"""

# A customer's orders span partitions, so two members may change them in concurrent
# transactions; each recomputing the summary from its own snapshot would let the last commit
# miss the other's change. Transaction-scoped locks per customer, taken in one order (no
# deadlock) by a statement of their own, make the recompute below wait for the other
# transaction and read its committed rows (READ COMMITTED takes a snapshot per statement).
_LOCK_CUSTOMERS = """
    SELECT count(pg_advisory_xact_lock(k))
    FROM (SELECT DISTINCT hashtextextended(c::text, 7301) AS k
          FROM unnest($1::uuid[]) AS c ORDER BY k) AS keys
"""

# The summary is a pure function of the customer's orders (readside_core.views.summarize_customer
# is its twin in Python), so it is recomputed from order_views for the customers touched.
_REFRESH_SUMMARIES = """
    WITH touched AS (SELECT DISTINCT unnest($1::uuid[]) AS customer_id),
    orders AS (SELECT o.* FROM order_views o JOIN touched t USING (customer_id)),
    by_status AS (
        SELECT customer_id, jsonb_object_agg(status, n) AS counts
        FROM (SELECT customer_id, status, count(*) AS n FROM orders GROUP BY 1, 2) s
        GROUP BY 1),
    spent AS (
        SELECT customer_id, jsonb_object_agg(currency, amount) AS amounts
        FROM (SELECT customer_id, currency, sum(total_amount) AS amount FROM orders
              WHERE status <> 'CANCELLED' GROUP BY 1, 2) s
        GROUP BY 1),
    totals AS (
        SELECT customer_id, count(*) AS n, min(created_at) AS first_at, max(created_at) AS last_at
        FROM orders GROUP BY 1)
    INSERT INTO customer_summaries (customer_id, order_count, orders_by_status,
                                    spent_by_currency, first_order_at, last_order_at, updated_at)
    SELECT t.customer_id, t.n, b.counts, coalesce(s.amounts, '{}'::jsonb), t.first_at,
           t.last_at, now()
    FROM totals t JOIN by_status b USING (customer_id) LEFT JOIN spent s USING (customer_id)
    ON CONFLICT (customer_id) DO UPDATE SET
        order_count = EXCLUDED.order_count,
        orders_by_status = EXCLUDED.orders_by_status,
        spent_by_currency = EXCLUDED.spent_by_currency,
        first_order_at = EXCLUDED.first_order_at,
        last_order_at = EXCLUDED.last_order_at,
        updated_at = now()
"""

# One statement fences and stores the offsets: a stored row moves only from the offset this
# consumer expects, a new row is inserted only where none exists. Fewer rows back than
# partitions asked means another member moved one: the caller rolls back.
_STORE_OFFSETS = """
    WITH wanted AS (
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
        RETURNING partition)
    SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM added)
"""


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
    return "{" + ",".join(str(e) for e in view.event_ids) + "}"


def _json(value: object) -> str | None:
    return None if value is None else json_encoder.encode(value).decode()


def _insert_args(views: list[OrderView]) -> list[list[object]]:
    return [
        [v.order_id for v in views],
        [v.customer_id for v in views],
        [v.order_number for v in views],
        [v.status.value for v in views],
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
        [v.status.value for v in views],
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
    """Write the plan's rows and offsets in one transaction (OffsetsFenced, WriteConflict)."""
    new = [v for order_id, v in plan.changed.items() if order_id in plan.created]
    updated = [v for order_id, v in plan.changed.items() if order_id not in plan.created]
    async with conn.transaction():
        try:
            if new:
                await conn.execute(_INSERT_ORDERS, *_insert_args(new))
        except asyncpg.UniqueViolationError as exc:
            raise WriteConflict(str(exc)) from exc
        if updated:
            await conn.execute(_UPDATE_ORDERS, *_update_args(updated))
        if plan.changed:
            customers = list({v.customer_id for v in plan.changed.values()})
            await conn.fetchval(_LOCK_CUSTOMERS, customers)
            await conn.execute(_REFRESH_SUMMARIES, customers)
            folded = plan.folded or [model.fold(plan.changes()) for model in READ_MODELS]
            for model, added in zip(READ_MODELS, folded, strict=True):
                await model.write(conn, added)
        await _store_offsets(conn, group, plan.next_offsets, expected)


async def _store_offsets(
    conn: asyncpg.Connection,
    group: str,
    offsets: Mapping[TopicPartition, int],
    expected: Mapping[TopicPartition, int | None],
) -> None:
    parts = list(offsets)
    stored = await conn.fetchval(
        _STORE_OFFSETS,
        group,
        [t for t, _ in parts],
        [p for _, p in parts],
        [offsets[tp] for tp in parts],
        [expected.get(tp) for tp in parts],
    )
    if stored != len(parts):
        # Rolled back by the caller's transaction: nothing of this plan is stored.
        raise OffsetsFenced(
            f"stored offsets of {sorted(parts)} are no longer {dict(expected)} in PostgreSQL: "
            "another member owns a partition now"
        )


async def read_offsets(conn: asyncpg.Connection, group: str, topic: str) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets"
        " WHERE consumer_group = $1 AND topic = $2",
        group,
        topic,
    )
    return {row[0]: row[1] for row in rows}
