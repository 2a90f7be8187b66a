"""Customer summaries kept by deltas: what a batch of changed orders adds to each summary.

A summary is a pure function of the customer's orders (`views.summarize_customer`). A batch
changes some of them; `fold_summaries` turns each change (the order before the batch, or
None, and after it) into what it adds to its customer's counts, and the projection's batch
statement adds that to the stored row (`SUMMARY_UPSERT`). Additions commute, so two members
changing orders of one customer in concurrent transactions both count: the second waits on
the row lock of the first and adds to its committed row. Exactly once follows from the
batch's: the deltas commit with the orders and the offsets, or not at all.

Whether a currency is in `spent_by_currency` cannot be added up from amounts (a sum can fall
to zero while a live order of zero remains), so the row also counts the live orders per
currency (`live_orders_by_currency`, not served).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from readside_core.views import OrderStatus, OrderView, json_encoder


@dataclass(slots=True)
class SummaryDelta:
    order_count: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    live: dict[str, int] = field(default_factory=dict)
    spent: dict[str, Decimal] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None

    def add(self, order: OrderView, sign: int) -> None:
        status = order.status  # the member, a str: no Enum.value lookup on the hot path
        self.by_status[status] = self.by_status.get(status, 0) + sign
        if order.status is not OrderStatus.CANCELLED:
            self.live[order.currency] = self.live.get(order.currency, 0) + sign
            spent = self.spent.get(order.currency, Decimal(0))
            self.spent[order.currency] = spent + sign * order.total_amount
        if self.first_at is None or order.created_at < self.first_at:
            self.first_at = order.created_at
        if self.last_at is None or order.created_at > self.last_at:
            self.last_at = order.created_at


def fold_summaries(
    changes: Iterable[tuple[OrderView | None, OrderView]],
) -> dict[UUID, SummaryDelta]:
    """Per customer, what these changes (before, after) add to the stored summary."""
    deltas: dict[UUID, SummaryDelta] = {}
    for before, after in changes:
        if before is not None:
            deltas.setdefault(before.customer_id, SummaryDelta()).add(before, -1)
        delta = deltas.setdefault(after.customer_id, SummaryDelta())
        delta.add(after, 1)
        if before is None:
            delta.order_count += 1
    return deltas


def live_orders_by_currency(orders: Iterable[OrderView]) -> dict[str, int]:
    """The stored column as a recompute from the customer's orders fills it."""
    live: dict[str, int] = {}
    for order in orders:
        if order.status is not OrderStatus.CANCELLED:
            live[order.currency] = live.get(order.currency, 0) + 1
    return live


def summary_arguments(deltas: dict[UUID, SummaryDelta]) -> list[Sequence[object]]:
    """The arrays `SUMMARY_UPSERT` unnests, in customer order (the order rows are locked in)."""
    rows = sorted(deltas.items(), key=lambda item: item[0].int)  # UUID order, in C
    return [
        [customer for customer, _ in rows],
        [d.order_count for _, d in rows],
        [_json(d.by_status) for _, d in rows],
        [_json(d.live) for _, d in rows],
        [_json({c: a.quantize(_CENTS) for c, a in d.spent.items()}) for _, d in rows],
        [d.first_at for _, d in rows],
        [d.last_at for _, d in rows],
    ]


def _json(value: dict[str, int] | dict[str, Decimal]) -> str:
    return json_encoder.encode(value).decode()


_CENTS = Decimal("0.01")


def _added_counts(stored: str, added: str) -> str:
    """SQL: two jsonb maps of counts added key by key, keys at zero left out."""
    return f"""(SELECT coalesce(jsonb_object_agg(k, n), '{{}}'::jsonb)
        FROM (SELECT k, sum(v::bigint) AS n
              FROM (SELECT * FROM jsonb_each_text({stored})
                    UNION ALL SELECT * FROM jsonb_each_text({added})) AS x(k, v)
              GROUP BY k) AS y
        WHERE n <> 0)"""


def _added_amounts(stored: str, added: str, live_stored: str, live_added: str) -> str:
    """SQL: two jsonb maps of amounts added key by key (two decimals, as the column's sums
    are), keeping the currencies that still have a live order."""
    return f"""(SELECT coalesce(jsonb_object_agg(k, round(a, 2)), '{{}}'::jsonb)
        FROM (SELECT k, sum(v::numeric) AS a
              FROM (SELECT * FROM jsonb_each_text({stored})
                    UNION ALL SELECT * FROM jsonb_each_text({added})) AS x(k, v)
              GROUP BY k) AS y
        WHERE coalesce(({live_stored}->>k)::bigint, 0)
              + coalesce(({live_added}->>k)::bigint, 0) > 0)"""


_LIVE = _added_counts("s.live_orders_by_currency", "EXCLUDED.live_orders_by_currency")
_SPENT = _added_amounts(
    "s.spent_by_currency",
    "EXCLUDED.spent_by_currency",
    "s.live_orders_by_currency",
    "EXCLUDED.live_orders_by_currency",
)


def summary_upsert(first: int) -> str:
    """A CTE body adding the deltas (parameters `first`.. `first + 6`) to the summaries.

    A customer without a row has no order stored before this batch (a row commits with the
    customer's first order), so every change of theirs here is a creation and the deltas
    are the whole summary: they are inserted as they are.
    """
    p = [f"${first + i}" for i in range(7)]
    return f"""
    INSERT INTO customer_summaries AS s (customer_id, order_count, orders_by_status,
        live_orders_by_currency, spent_by_currency, first_order_at, last_order_at, updated_at)
    SELECT d.customer_id, d.order_count, d.by_status::jsonb, d.live::jsonb, d.spent::jsonb,
           d.first_at, d.last_at, now()
    FROM unnest({p[0]}::uuid[], {p[1]}::bigint[], {p[2]}::text[], {p[3]}::text[],
                {p[4]}::text[], {p[5]}::timestamptz[], {p[6]}::timestamptz[])
         AS d(customer_id, order_count, by_status, live, spent, first_at, last_at)
    ORDER BY d.customer_id
    ON CONFLICT (customer_id) DO UPDATE SET
        order_count = s.order_count + EXCLUDED.order_count,
        orders_by_status = {_added_counts("s.orders_by_status", "EXCLUDED.orders_by_status")},
        live_orders_by_currency = {_LIVE},
        spent_by_currency = {_SPENT},
        first_order_at = least(s.first_order_at, EXCLUDED.first_order_at),
        last_order_at = greatest(s.last_order_at, EXCLUDED.last_order_at),
        updated_at = now()
    """
