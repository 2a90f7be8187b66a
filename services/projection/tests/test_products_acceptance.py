"""Acceptance of the product read model: thousands of generated orders over a small catalog,
projected by three members of one group at once (the same products changed in concurrent
transactions), compared product by product with the pure fold of the stream."""

from __future__ import annotations

from typing import Any

import pytest

from readside_core.events import OrderEvent, decode_event
from readside_core.fold import fold_events
from readside_core.products.fold import summarize_products
from readside_core.views import OrderStatus
from readside_projection.generator import generate
from readside_testkit.products import assert_products_exact

pytestmark = pytest.mark.integration


async def test_thousands_of_orders_by_three_members_match_the_fold_product_by_product(
    harness: Any,
) -> None:
    messages = list(generate(4000, seed=12, duplicate_rate=0.05, products=120))
    members = [harness.projection(BATCH_MAX_RECORDS="200") for _ in range(3)]
    await harness.publish(messages)
    await harness.wait_caught_up(within=180)
    assert all(m.alive() for m in members)
    events = [decode_event(value) for _, value in messages]
    expected_orders, _ = fold_events({}, [e for e in events if isinstance(e, OrderEvent)])
    model = await harness.read_model()
    assert len(model.orders) == len(expected_orders) == 4000
    # Product by product against the fold of the stream itself (not of the stored orders).
    assert_products_exact(model.products, expected_orders.values())
    expected = summarize_products(expected_orders.values())
    assert len(expected) == 120
    top = max(expected.values(), key=lambda p: p.orders)
    assert top.orders > 100, "the hot products are shared by orders of every partition"
    assert sum(p.units_by_status[OrderStatus.CANCELLED] for p in expected.values()) > 0
