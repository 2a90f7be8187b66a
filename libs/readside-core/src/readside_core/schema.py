"""SQLAlchemy table definitions of the read models and the projection's bookkeeping.

`order_views` keeps the seed's columns, types and indexes (migration 003); `event_ids` is added.
The tables carry no schema name: a versioned read model (blue-green rebuild) is the same
tables in another PostgreSQL schema, selected by the engine's connections' search_path
(readside_core.db, readside_core.read_model_version).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()

order_views = Table(
    "order_views",
    metadata,
    Column("order_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("order_number", String(50), nullable=False, unique=True),
    Column("status", String(50), nullable=False),
    Column("total_amount", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("items", JSONB, nullable=False),
    Column("shipping_address", JSONB),
    Column("tracking_number", String(100)),
    Column("carrier", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False, server_default=text("1")),
    Column(
        "event_ids",
        ARRAY(UUID(as_uuid=True)),
        nullable=False,
        server_default=text("'{}'::uuid[]"),
    ),
    Index("idx_order_views_customer", "customer_id", text("created_at DESC")),
    Index("idx_order_views_status", "status", text("created_at DESC")),
    Index("idx_order_views_order_number", "order_number"),
    Index("idx_order_views_created", text("created_at DESC")),
    Index("idx_order_views_items", "items", postgresql_using="gin"),
)

customer_summaries = Table(
    "customer_summaries",
    metadata,
    Column("customer_id", UUID(as_uuid=True), primary_key=True),
    Column("order_count", BigInteger, nullable=False),
    Column("orders_by_status", JSONB, nullable=False),
    Column("spent_by_currency", JSONB, nullable=False),
    Column("first_order_at", DateTime(timezone=True), nullable=False),
    Column("last_order_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # Not served: the live orders per currency that deltas need (readside_core.summaries).
    Column("live_orders_by_currency", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

# The next offset to read per partition, committed in the same transaction as the rows it
# produced: the source of truth on restart (Kafka's committed offsets only mirror it).
consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer_group", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    PrimaryKeyConstraint("consumer_group", "topic", "partition"),
)
