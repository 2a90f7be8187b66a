"""The product model's tables, for reads (created by migrations/versions/0003_product_views.py).

`product_views` holds the counts per status in columns of their own, and the live totals
(`units`, `orders`: every status but CANCELLED) that the lists sort on; `product_revenue`
one row per product and currency.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Numeric, PrimaryKeyConstraint, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from readside_core.products.fold import STATUSES
from readside_core.schema import metadata

product_views = Table(
    "product_views",
    metadata,
    Column("product_id", UUID(as_uuid=True), primary_key=True),
    Column("sku", Text, nullable=False),
    Column("first_ordered_at", DateTime(timezone=True), nullable=False),
    Column("last_ordered_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
    *(
        Column(f"{kind}_{s.value.lower()}", BigInteger, nullable=False)
        for kind in ("units", "orders")
        for s in STATUSES
    ),
    Column("units", BigInteger, nullable=False),
    Column("orders", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

product_revenue = Table(
    "product_revenue",
    metadata,
    Column("product_id", UUID(as_uuid=True), nullable=False),
    Column("currency", Text, nullable=False),
    Column("revenue", Numeric, nullable=False),
    PrimaryKeyConstraint("product_id", "currency"),
)
