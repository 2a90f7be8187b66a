"""The product read model (readside_core.products): product_views and product_revenue.

Filled from the orders already stored (the same sums the projection then keeps adding to),
so a read model migrated with orders in it is exact from the start. Run it with the
projection stopped (as every migration): a batch committed during the fill could be counted
twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STATUSES = ("created", "confirmed", "cancelled", "shipped", "delivered")
_LIVE = [s for s in _STATUSES if s != "cancelled"]
_COUNTS = [f"{kind}_{s}" for kind in ("units", "orders") for s in _STATUSES]

# One row per order and product (a product listed twice in an order counts once).
_PER_ORDER = """
    per_order AS (
        SELECT (i->>'product_id')::uuid AS product_id, o.order_id, o.status, o.currency,
               o.created_at, o.version, min(i->>'sku') AS sku,
               sum((i->>'quantity')::bigint) AS units,
               sum((i->>'quantity')::bigint * (i->>'unit_price')::numeric) AS amount
        FROM order_views o, jsonb_array_elements(o.items) AS i
        GROUP BY 1, 2, 3, 4, 5, 6)
"""


def _fill_views() -> str:
    sums = ", ".join(
        f"coalesce(sum({'units' if kind == 'units' else '1'}) "
        f"FILTER (WHERE status = '{s.upper()}'), 0)"
        for kind in ("units", "orders")
        for s in _STATUSES
    )
    return f"""
        WITH {_PER_ORDER}
        INSERT INTO product_views (product_id, sku, first_ordered_at, last_ordered_at, version,
                                   {", ".join(_COUNTS)}, units, orders)
        SELECT product_id, (array_agg(sku ORDER BY created_at, sku))[1], min(created_at),
               max(created_at), sum(version), {sums},
               coalesce(sum(units) FILTER (WHERE status <> 'CANCELLED'), 0),
               count(*) FILTER (WHERE status <> 'CANCELLED')
        FROM per_order GROUP BY product_id
    """


def upgrade() -> None:
    counts = ",\n".join(f"{c} BIGINT NOT NULL" for c in _COUNTS)
    op.execute(
        f"""
        CREATE TABLE product_views (
            product_id UUID PRIMARY KEY,
            sku TEXT NOT NULL,
            first_ordered_at TIMESTAMPTZ NOT NULL,
            last_ordered_at TIMESTAMPTZ NOT NULL,
            version BIGINT NOT NULL,
            {counts},
            units BIGINT NOT NULL,
            orders BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX idx_product_views_units ON product_views (units DESC, product_id)")
    op.execute("CREATE INDEX idx_product_views_orders ON product_views (orders DESC, product_id)")
    op.execute(
        """
        CREATE TABLE product_revenue (
            product_id UUID NOT NULL,
            currency TEXT NOT NULL,
            revenue NUMERIC NOT NULL,
            PRIMARY KEY (product_id, currency)
        )
        """
    )
    op.execute(
        "CREATE INDEX idx_product_revenue_top"
        " ON product_revenue (currency, revenue DESC, product_id)"
    )
    op.execute(_fill_views())
    op.execute(
        f"""
        WITH {_PER_ORDER}
        INSERT INTO product_revenue (product_id, currency, revenue)
        SELECT product_id, currency, sum(CASE WHEN status <> 'CANCELLED' THEN amount ELSE 0 END)
        FROM per_order GROUP BY 1, 2
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE product_revenue")
    op.execute("DROP TABLE product_views")
