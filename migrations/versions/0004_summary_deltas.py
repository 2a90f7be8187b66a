"""Customer summaries kept by deltas, and the projection's one-statement batch.

The projection now writes a batch in ONE statement (services/projection/.../store.py): the
summaries are no longer recomputed from order_views (a statement sees its own snapshot, not
the rows it inserts) but ADD what the batch changed, as the product model does. One figure
cannot be added: whether a currency still has a live (not cancelled) order when its sum
falls to zero. `live_orders_by_currency` counts them (not served; filled here from the
orders already stored). `readside_offsets_fenced()` aborts the batch's statement when
another member moved its offsets: nothing of it may commit.

Run it with the projection stopped (as every migration).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FENCED_SQLSTATE = "RSF01"  # readside_projection.store raises OffsetsFenced on it


def upgrade() -> None:
    op.execute(
        "ALTER TABLE customer_summaries"
        " ADD COLUMN live_orders_by_currency JSONB NOT NULL DEFAULT '{}'::jsonb"
    )
    op.execute(
        """
        UPDATE customer_summaries s SET live_orders_by_currency = coalesce(
            (SELECT jsonb_object_agg(currency, n)
             FROM (SELECT currency, count(*) AS n FROM order_views o
                   WHERE o.customer_id = s.customer_id AND o.status <> 'CANCELLED'
                   GROUP BY currency) c),
            '{}'::jsonb)
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION readside_offsets_fenced(partitions TEXT) RETURNS BOOLEAN
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'stored offsets of % moved: another member owns a partition now',
                partitions USING ERRCODE = '{FENCED_SQLSTATE}';
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION readside_offsets_fenced(TEXT)")
    op.execute("ALTER TABLE customer_summaries DROP COLUMN live_orders_by_currency")
