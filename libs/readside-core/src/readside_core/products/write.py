"""The product model's part of the batch's statement (two CTEs and their arrays).

Each batch ADDS its per-product deltas (readside_core.products.fold.fold_changes) to the rows:
additions commute, so two members changing orders of the same product in concurrent
transactions both count (the second waits on the row lock of the first, then adds to its
committed row). Rows are upserted in product order, so such transactions never deadlock.
Exactly once follows from the batch's: the deltas commit with the orders and the offsets, or
not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from readside_core.products.fold import STATUSES, ProductDelta, ProductDeltas, sorted_deltas
from readside_core.views import OrderStatus

_COUNTS = [f"{kind}_{s.value.lower()}" for kind in ("units", "orders") for s in STATUSES]
_LIVE = [s.value.lower() for s in STATUSES if s is not OrderStatus.CANCELLED]

_COLUMNS = ("product_id", "sku", "first_ordered_at", "last_ordered_at", "version", *_COUNTS)
_TYPES = ("uuid", "text", "timestamptz", "timestamptz", "bigint", *["bigint"] * len(_COUNTS))


def product_ctes(first: int) -> tuple[str, int]:
    """The model's two CTEs of the batch statement, numbering parameters from `first`, and
    how many parameters they take."""
    arrays = ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(_TYPES))
    r = [f"${first + len(_TYPES) + i}" for i in range(3)]
    ctes = f"""
    product_upserts AS (
        INSERT INTO product_views AS p ({", ".join(_COLUMNS)}, units, orders)
        SELECT d.*, {" + ".join(f"d.units_{s}" for s in _LIVE)},
               {" + ".join(f"d.orders_{s}" for s in _LIVE)}
        FROM unnest({arrays}) AS d({", ".join(_COLUMNS)})
        ORDER BY d.product_id
        ON CONFLICT (product_id) DO UPDATE SET
            sku = CASE WHEN (EXCLUDED.first_ordered_at, EXCLUDED.sku) < (p.first_ordered_at, p.sku)
                       THEN EXCLUDED.sku ELSE p.sku END,
            first_ordered_at = least(p.first_ordered_at, EXCLUDED.first_ordered_at),
            last_ordered_at = greatest(p.last_ordered_at, EXCLUDED.last_ordered_at),
            version = p.version + EXCLUDED.version,
            {", ".join(f"{c} = p.{c} + EXCLUDED.{c}" for c in [*_COUNTS, "units", "orders"])},
            updated_at = now()),
    product_revenue_upserts AS (
        INSERT INTO product_revenue AS r (product_id, currency, revenue)
        SELECT * FROM unnest({r[0]}::uuid[], {r[1]}::text[], {r[2]}::numeric[])
                      AS d(product_id, currency, revenue)
        ORDER BY d.product_id, d.currency
        ON CONFLICT (product_id, currency) DO UPDATE SET revenue = r.revenue + EXCLUDED.revenue)
    """
    return ctes, len(_TYPES) + 3


def product_arguments(folded: ProductDeltas) -> list[Sequence[object]]:
    """What `product_ctes` takes: the batch's deltas added to their products."""
    deltas = sorted_deltas(folded)
    revenue = [(d.product_id, c, amount) for d in deltas for c, amount in d.revenue.items()]
    return [
        *_product_args(deltas),
        [r[0] for r in revenue],
        [r[1] for r in revenue],
        [r[2] for r in revenue],
    ]


def _product_args(deltas: list[ProductDelta]) -> list[Sequence[object]]:
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
