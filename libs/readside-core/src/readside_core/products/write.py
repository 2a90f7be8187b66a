"""The product model's statements in the batch's transaction (asyncpg).

Each batch ADDS its per-product deltas (readside_core.products.fold.fold_changes) to the rows:
additions commute, so two members changing orders of the same product in concurrent
transactions both count (the second waits on the row lock of the first, then adds to its
committed row). Rows are upserted in product order, so such transactions never deadlock.
Exactly once follows from the batch's: the deltas commit with the orders and the offsets, or
not at all.
"""

from __future__ import annotations

import asyncpg

from readside_core.products.fold import STATUSES, ProductDelta, ProductDeltas, sorted_deltas
from readside_core.views import OrderStatus

_COUNTS = [f"{kind}_{s.value.lower()}" for kind in ("units", "orders") for s in STATUSES]
_LIVE = [s.value.lower() for s in STATUSES if s is not OrderStatus.CANCELLED]

_UPSERT_PRODUCTS = f"""
    INSERT INTO product_views AS p (product_id, sku, first_ordered_at, last_ordered_at,
        version, {", ".join(_COUNTS)}, units, orders)
    SELECT d.*, {" + ".join(f"d.units_{s}" for s in _LIVE)},
           {" + ".join(f"d.orders_{s}" for s in _LIVE)}
    FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[],
                {", ".join(f"${i + 6}::bigint[]" for i in range(len(_COUNTS)))})
         AS d(product_id, sku, first_ordered_at, last_ordered_at, version, {", ".join(_COUNTS)})
    ORDER BY d.product_id
    ON CONFLICT (product_id) DO UPDATE SET
        sku = CASE WHEN (EXCLUDED.first_ordered_at, EXCLUDED.sku) < (p.first_ordered_at, p.sku)
                   THEN EXCLUDED.sku ELSE p.sku END,
        first_ordered_at = least(p.first_ordered_at, EXCLUDED.first_ordered_at),
        last_ordered_at = greatest(p.last_ordered_at, EXCLUDED.last_ordered_at),
        version = p.version + EXCLUDED.version,
        {", ".join(f"{c} = p.{c} + EXCLUDED.{c}" for c in [*_COUNTS, "units", "orders"])},
        updated_at = now()
"""

_UPSERT_REVENUE = """
    INSERT INTO product_revenue AS r (product_id, currency, revenue)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::numeric[]) AS d(product_id, currency, revenue)
    ORDER BY d.product_id, d.currency
    ON CONFLICT (product_id, currency) DO UPDATE SET revenue = r.revenue + EXCLUDED.revenue
"""


async def write_products(conn: asyncpg.Connection, folded: ProductDeltas) -> None:
    """Add what the batch's changed orders changed to their products."""
    deltas = sorted_deltas(folded)
    if not deltas:
        return
    await conn.execute(_UPSERT_PRODUCTS, *_product_args(deltas))
    revenue = [(d.product_id, c, amount) for d in deltas for c, amount in d.revenue.items()]
    await conn.execute(
        _UPSERT_REVENUE,
        [r[0] for r in revenue],
        [r[1] for r in revenue],
        [r[2] for r in revenue],
    )


def _product_args(deltas: list[ProductDelta]) -> list[list[object]]:
    counts = [
        [getattr(d, kind).get(s.value, 0) for d in deltas]
        for kind in ("units", "orders")
        for s in STATUSES
    ]
    return [
        [d.product_id for d in deltas],
        [d.sku for d in deltas],
        [d.first_ordered_at for d in deltas],
        [d.last_ordered_at for d in deltas],
        [d.version for d in deltas],
        *counts,
    ]
