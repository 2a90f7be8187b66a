"""Comparing stored product rows with the product oracle (readside_core.products.fold)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from readside_core.products.fold import ProductView, summarize_products
from readside_core.views import OrderView


def assert_products_exact(stored: dict[UUID, ProductView], orders: Iterable[OrderView]) -> None:
    """The stored product rows are the oracle's sums over `orders`, row for row."""
    expected = summarize_products(orders)
    assert sorted(stored) == sorted(expected)
    differing = [pid for pid in expected if stored[pid] != expected[pid]]
    for pid in differing[:3]:
        print(pid, stored[pid], expected[pid])
    assert not differing, f"{len(differing)} of {len(expected)} products differ from the fold"
