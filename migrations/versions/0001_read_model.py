"""Read model: order_views exactly as the seed's migration 003, plus the projection's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The seed's migration 003, column for column and index for index.
    op.execute(
        """
        CREATE TABLE order_views (
            order_id UUID PRIMARY KEY,
            customer_id UUID NOT NULL,
            order_number VARCHAR(50) NOT NULL UNIQUE,
            status VARCHAR(50) NOT NULL,
            total_amount DECIMAL(12, 2) NOT NULL,
            currency VARCHAR(3) NOT NULL,
            items JSONB NOT NULL,
            shipping_address JSONB,
            tracking_number VARCHAR(100),
            carrier VARCHAR(100),
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            version BIGINT NOT NULL DEFAULT 1
        )
        """
    )
    op.execute(
        "CREATE INDEX idx_order_views_customer ON order_views (customer_id, created_at DESC)"
    )
    op.execute("CREATE INDEX idx_order_views_status ON order_views (status, created_at DESC)")
    op.execute("CREATE INDEX idx_order_views_order_number ON order_views (order_number)")
    op.execute("CREATE INDEX idx_order_views_created ON order_views (created_at DESC)")
    op.execute("CREATE INDEX idx_order_views_items ON order_views USING GIN (items)")
    # Added column: the ids of the events applied to each order make duplicates harmless.
    op.execute("ALTER TABLE order_views ADD COLUMN event_ids UUID[] NOT NULL DEFAULT '{}'")

    op.execute(
        """
        CREATE TABLE customer_summaries (
            customer_id UUID PRIMARY KEY,
            order_count BIGINT NOT NULL,
            orders_by_status JSONB NOT NULL,
            spent_by_currency JSONB NOT NULL,
            first_order_at TIMESTAMPTZ NOT NULL,
            last_order_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE consumer_offsets (
            consumer_group TEXT NOT NULL,
            topic TEXT NOT NULL,
            partition INTEGER NOT NULL,
            next_offset BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, topic, partition)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE consumer_offsets")
    op.execute("DROP TABLE customer_summaries")
    op.execute("DROP TABLE order_views")
