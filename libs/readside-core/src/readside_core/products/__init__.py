"""The product read model: one folder holding everything the model is.

| module | what it declares |
|---|---|
| `fold.py` | `ProductView`, an order's contribution, the batch delta and the oracle (pure) |
| `table.py` | its tables (SQLAlchemy, for reads; created by migrations/versions/0003) |
| `write.py` | its part of the batch's statement (two CTEs and their arrays) |
| `reads.py` | reading it back (the JSON shape is `fold.product_to_json`) |
| `__init__.py` | `PRODUCTS`: the entry of `readside_core.read_models.READ_MODELS` |

Its routes are `services/query/src/readside_query/product_routes.py` (the query service is the
only package with Litestar).
"""

from __future__ import annotations

from readside_core.products.fold import (
    fold_changes,
    merge_deltas,
    product_scope,
    products_scope,
    scopes_of,
)
from readside_core.products.write import product_arguments, product_ctes
from readside_core.read_models import ReadModel

PRODUCTS = ReadModel(
    name="products",
    tables=("product_views", "product_revenue"),
    fold=fold_changes,
    merge=merge_deltas,
    ctes=product_ctes,
    arguments=product_arguments,
    scopes=scopes_of,
)

__all__ = ["PRODUCTS", "product_scope", "products_scope"]
