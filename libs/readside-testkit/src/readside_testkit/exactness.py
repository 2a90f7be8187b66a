"""A stored read model against the pure fold of what was published: every row, every column.

Used by the projection's tests (the `assert_exact` fixture) and by `bench_projection.py
--exactness N`, which loops the latency benchmark's mode against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import select

from readside_core.db import create_engine
from readside_core.events import OrderEvent, decode_event
from readside_core.fold import fold_events
from readside_core.products.fold import ProductView
from readside_core.products.reads import all_products
from readside_core.repository import summary_from_row, view_from_row
from readside_core.schema import customer_summaries, order_views
from readside_core.views import (
    CustomerSummary,
    OrderView,
    json_encoder,
    summarize_customer,
    summary_to_json,
)
from readside_testkit.products import assert_products_exact

Message = tuple[bytes | None, bytes]


@dataclass(frozen=True)
class ReadModel:
    orders: dict[str, OrderView]
    summaries: dict[str, CustomerSummary]
    products: dict[UUID, ProductView]

    def summaries_json(self) -> dict[str, Any]:
        return {cid: _json(summary_to_json(s)) for cid, s in self.summaries.items()}

    def expected_summaries_json(self) -> dict[str, Any]:
        """The summaries as the pure function of the stored orders computes them."""
        by_customer: dict[str, list[OrderView]] = {}
        for view in self.orders.values():
            by_customer.setdefault(str(view.customer_id), []).append(view)
        return {
            cid: _json(summary_to_json(summarize_customer(v))) for cid, v in by_customer.items()
        }


async def read_back(database_url: str, schema: str = "public") -> ReadModel:
    """Every order, summary and product stored in this read model."""
    engine = create_engine(database_url, schema=schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(order_views))).mappings().all()
            summaries = (await conn.execute(select(customer_summaries))).mappings().all()
        products = await all_products(engine)
    finally:
        await engine.dispose()
    return ReadModel(
        orders={str(row["order_id"]): view_from_row(row) for row in rows},
        summaries={str(row["customer_id"]): summary_from_row(row) for row in summaries},
        products=products,
    )


def fold_stream(messages: Iterable[Message]) -> dict[str, OrderView]:
    """What the read model must hold after the stream: the pure fold, in partition order."""
    events = [decode_event(value) for _, value in messages]
    views, _ = fold_events({}, [e for e in events if isinstance(e, OrderEvent)])
    return {str(order_id): view for order_id, view in views.items()}


def assert_exact(model: ReadModel, messages: Iterable[Message]) -> None:
    """The stored orders are the fold of `messages`; summaries and products are the pure
    functions of those orders."""
    expected = fold_stream(messages)
    assert sorted(model.orders) == sorted(expected)
    differing = {k for k in expected if model.orders[k] != expected[k]}
    for order_id in sorted(differing)[:3]:
        stored, folded = model.orders[order_id], expected[order_id]
        fields = [f for f in stored.__struct_fields__ if getattr(stored, f) != getattr(folded, f)]
        print(order_id, [(f, getattr(stored, f), getattr(folded, f)) for f in fields])
    assert not differing, f"{len(differing)} of {len(expected)} orders differ from the fold"
    assert model.summaries_json() == model.expected_summaries_json()
    assert_products_exact(model.products, model.orders.values())


def _json(value: Any) -> Any:
    return json.loads(json_encoder.encode(value))
