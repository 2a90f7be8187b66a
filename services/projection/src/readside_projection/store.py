"""PostgreSQL side of the projection: load state, write a batch, read and fence offsets.

Every write of a batch happens in ONE transaction: the changed order rows (one bulk upsert),
the customer summaries of the customers touched (recomputed from order_views), and the next
offsets of every partition in the batch. The offsets are fenced: the transaction fails if
another consumer moved them since this one read them, so a consumer that lost its
partitions in a rebalance can never apply a batch twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from sqlalchemy import any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from readside_core.repository import view_from_row
from readside_core.schema import consumer_offsets, order_views
from readside_core.views import OrderView, json_encoder
from readside_projection.batch import TopicPartition


class OffsetsFenced(RuntimeError):
    """Stored offsets moved under this consumer: another member owns the partition now."""


async def load_state(
    conn: AsyncConnection, order_ids: Iterable[UUID], order_numbers: Iterable[str]
) -> tuple[dict[UUID, OrderView], dict[str, UUID]]:
    """The current views of the batch's orders, and the owners of its new order numbers."""
    ids, numbers = list(order_ids), list(order_numbers)
    views: dict[UUID, OrderView] = {}
    if ids:
        ids_param = bindparam("ids", ids, type_=ARRAY(PgUUID(as_uuid=True)))
        rows = await conn.execute(
            select(order_views).where(order_views.c.order_id == any_(ids_param))
        )
        views = {row["order_id"]: view_from_row(row) for row in rows.mappings()}
    owners: dict[str, UUID] = {}
    if numbers:
        c = order_views.c
        numbers_param = bindparam("numbers", numbers, type_=ARRAY(c.order_number.type))
        rows = await conn.execute(
            select(c.order_number, c.order_id).where(c.order_number == any_(numbers_param))
        )
        owners = {number: order_id for number, order_id in rows}
    return views, owners


_INSERT_ORDERS = text(
    """
    INSERT INTO order_views (order_id, customer_id, order_number, status, total_amount, currency,
                             items, shipping_address, tracking_number, carrier, created_at,
                             updated_at, version, event_ids)
    SELECT o.order_id, o.customer_id, o.order_number, o.status, o.total_amount, o.currency,
           o.items::jsonb, o.shipping_address::jsonb, o.tracking_number, o.carrier,
           o.created_at, o.updated_at, o.version, o.event_ids::uuid[]
    FROM unnest(CAST(:order_id AS uuid[]), CAST(:customer_id AS uuid[]),
                CAST(:order_number AS text[]), CAST(:status AS text[]),
                CAST(:total_amount AS numeric[]), CAST(:currency AS text[]),
                CAST(:items AS text[]), CAST(:shipping_address AS text[]),
                CAST(:tracking_number AS text[]), CAST(:carrier AS text[]),
                CAST(:created_at AS timestamptz[]), CAST(:updated_at AS timestamptz[]),
                CAST(:version AS bigint[]), CAST(:event_ids AS text[]))
         AS o(order_id, customer_id, order_number, status, total_amount, currency, items,
              shipping_address, tracking_number, carrier, created_at, updated_at, version,
              event_ids)
    """
)

# Events only ever change these columns: an update leaves items (and its GIN index) alone.
_UPDATE_ORDERS = text(
    """
    UPDATE order_views o SET status = u.status, tracking_number = u.tracking_number,
           carrier = u.carrier, updated_at = u.updated_at, version = u.version,
           event_ids = u.event_ids::uuid[]
    FROM unnest(CAST(:order_id AS uuid[]), CAST(:status AS text[]),
                CAST(:tracking_number AS text[]), CAST(:carrier AS text[]),
                CAST(:updated_at AS timestamptz[]), CAST(:version AS bigint[]),
                CAST(:event_ids AS text[]))
         AS u(order_id, status, tracking_number, carrier, updated_at, version, event_ids)
    WHERE o.order_id = u.order_id
    """
)

# The summary is a pure function of the customer's orders (readside_core.views.summarize_customer
# is its twin in Python), so it is recomputed from order_views for the customers touched.
_REFRESH_SUMMARIES = text(
    """
    WITH touched AS (SELECT DISTINCT unnest(CAST(:customers AS uuid[])) AS customer_id),
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
)


def _columns(views: Iterable[OrderView], full: bool) -> dict[str, list[object]]:
    statement = _INSERT_ORDERS if full else _UPDATE_ORDERS
    cols: dict[str, list[object]] = {name: [] for name in statement.compile().params}
    for v in views:
        cols["order_id"].append(v.order_id)
        cols["status"].append(v.status.value)
        cols["tracking_number"].append(v.tracking_number)
        cols["carrier"].append(v.carrier)
        cols["updated_at"].append(v.updated_at)
        cols["version"].append(v.version)
        cols["event_ids"].append("{" + ",".join(str(e) for e in v.event_ids) + "}")
        if full:
            cols["customer_id"].append(v.customer_id)
            cols["order_number"].append(v.order_number)
            cols["total_amount"].append(v.total_amount)
            cols["currency"].append(v.currency)
            cols["items"].append(json_encoder.encode(v.items).decode())
            address = v.shipping_address
            cols["shipping_address"].append(
                None if address is None else json_encoder.encode(address).decode()
            )
            cols["created_at"].append(v.created_at)
    return cols


async def write_views(
    conn: AsyncConnection, views: Mapping[UUID, OrderView], created: set[UUID]
) -> None:
    """Insert the orders created in this batch, update the others, refresh their summaries."""
    if not views:
        return
    new = [v for order_id, v in views.items() if order_id in created]
    updated = [v for order_id, v in views.items() if order_id not in created]
    if new:
        await conn.execute(_INSERT_ORDERS, _columns(new, full=True))
    if updated:
        await conn.execute(_UPDATE_ORDERS, _columns(updated, full=False))
    customers = list({v.customer_id for v in views.values()})
    await conn.execute(_REFRESH_SUMMARIES, {"customers": customers})


async def read_offsets(conn: AsyncConnection, group: str, topic: str) -> dict[int, int]:
    c = consumer_offsets.c
    rows = await conn.execute(
        select(c.partition, c.next_offset).where(c.consumer_group == group, c.topic == topic)
    )
    return {partition: offset for partition, offset in rows}


async def store_offsets(
    conn: AsyncConnection,
    group: str,
    offsets: Mapping[TopicPartition, int],
    expected: Mapping[TopicPartition, int | None],
) -> None:
    """Store the next offsets, fenced against `expected` (what this consumer last stored)."""
    c = consumer_offsets.c
    for topic in {tp[0] for tp in offsets}:
        parts = [p for t, p in offsets if t == topic]
        parts_param = bindparam("parts", parts, type_=ARRAY(c.partition.type))
        rows = await conn.execute(
            select(c.partition, c.next_offset)
            .where(c.consumer_group == group, c.topic == topic, c.partition == any_(parts_param))
            .with_for_update()
        )
        stored: dict[int, int] = {partition: offset for partition, offset in rows}
        for part in parts:
            if stored.get(part) != expected.get((topic, part)):
                raise OffsetsFenced(
                    f"{topic}[{part}] is at {stored.get(part)} in PostgreSQL, this consumer "
                    f"expected {expected.get((topic, part))}: another member owns it now"
                )
    await conn.execute(
        text(
            """
            INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
            SELECT :group, t, p, o
            FROM unnest(CAST(:topics AS text[]), CAST(:parts AS int[]), CAST(:offs AS bigint[]))
                 AS x(t, p, o)
            ON CONFLICT (consumer_group, topic, partition)
            DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
            """
        ),
        {
            "group": group,
            "topics": [tp[0] for tp in offsets],
            "parts": [tp[1] for tp in offsets],
            "offs": list(offsets.values()),
        },
    )
