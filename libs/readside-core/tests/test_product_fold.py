"""The product fold: contributions, batch deltas against the oracle, cancellations."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import msgspec

from readside_core.products.fold import (
    ProductDelta,
    batch_deltas,
    contribution,
    fold_changes,
    merge_deltas,
    summarize_products,
    view_of,
)
from readside_core.views import OrderStatus, OrderView
from readside_testkit.orders import cancelled, confirmed, created, delivered, shipped

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
P1, P2 = UUID(int=1), UUID(int=2)


def _order(
    items: list[tuple[UUID, str, int, str]], at: datetime = T0, currency: str = "USD"
) -> OrderView:
    view = created(uuid4(), at, currency=currency)
    lines = [
        {"product_id": p, "sku": s, "quantity": q, "unit_price": Decimal(u)} for p, s, q, u in items
    ]
    return msgspec.structs.replace(view, items=lines)


def test_an_order_counts_once_per_product_with_quantities_summed() -> None:
    order = _order([(P1, "SKU-B", 2, "10.00"), (P1, "SKU-A", 3, "1.50"), (P2, "X", 1, "5")])
    found = contribution(order)
    assert found[P1].units == {"CREATED": 5}
    assert found[P1].orders == {"CREATED": 1}
    assert found[P1].revenue == {"USD": Decimal("24.50")}
    assert found[P1].sku == "SKU-A"
    assert found[P2].units == {"CREATED": 1}
    assert found[P1].version == 1


def test_a_cancellation_moves_units_out_of_the_live_totals() -> None:
    order = _order([(P1, "S", 4, "2.50")])
    live = confirmed(order, T0 + timedelta(minutes=1))
    gone = cancelled(live, T0 + timedelta(minutes=2))
    [delta] = batch_deltas([(live, gone)])
    assert delta.units == {"CONFIRMED": -4, "CANCELLED": 4}
    assert delta.orders == {"CONFIRMED": -1, "CANCELLED": 1}
    assert delta.revenue == {"USD": Decimal("-10.00")}
    assert delta.version == 1
    view = summarize_products([gone])[P1]
    assert (view.units, view.orders, view.units_by_status["CANCELLED"]) == (0, 0, 4)
    assert view.revenue_by_currency == {"USD": Decimal("0")}


def test_sku_is_the_earliest_orders_whatever_the_order_of_additions() -> None:
    early = _order([(P1, "SKU-OLD", 1, "1")], T0)
    late = _order([(P1, "SKU-NEW", 1, "1")], T0 + timedelta(days=1))
    for orders in ([early, late], [late, early]):
        view = summarize_products(orders)[P1]
        assert view.sku == "SKU-OLD"
        assert (view.first_ordered_at, view.last_ordered_at) == (T0, T0 + timedelta(days=1))


def _lifecycle(rng: random.Random, catalog: list[UUID]) -> list[OrderView]:
    at = T0 + timedelta(seconds=rng.randint(0, 10**6))
    items = [
        (rng.choice(catalog), "S", rng.randint(1, 5), "3.25") for _ in range(rng.randint(1, 3))
    ]
    steps = [_order(items, at, rng.choice(["USD", "EUR"]))]
    for step in rng.choice([[confirmed, shipped, delivered], [confirmed, cancelled], [cancelled]]):
        if rng.random() < 0.8:
            steps.append(step(steps[-1], at + timedelta(hours=len(steps))))
    return steps


def test_batches_of_deltas_add_up_to_the_oracle() -> None:
    """Fold random lifecycles in random batches; the summed deltas equal the oracle's sums."""
    rng = random.Random(3)
    catalog = [uuid4() for _ in range(20)]
    lifecycles = [_lifecycle(rng, catalog) for _ in range(400)]
    rows: dict[UUID, ProductDelta] = {}
    state: dict[int, OrderView] = {}
    pending = [(n, step) for n, steps in enumerate(lifecycles) for step in steps]
    while pending:
        size = rng.randint(1, 60)
        batch, pending = pending[:size], pending[size:]
        before: dict[int, OrderView | None] = {}
        for n, step in batch:
            before.setdefault(n, state.get(n))
            state[n] = step
        for delta in batch_deltas([(before[n], state[n]) for n in before]):
            row = rows.setdefault(
                delta.product_id,
                ProductDelta(
                    delta.product_id, delta.sku, delta.first_ordered_at, delta.last_ordered_at
                ),
            )
            row.add(delta)
    expected = summarize_products(state.values())
    assert {pid: view_of(d) for pid, d in rows.items()} == expected
    # Batches merged before their commit add up to the same.
    merged = fold_changes([(None, steps[0]) for steps in lifecycles])
    merge_deltas(merged, fold_changes([(steps[0], steps[-1]) for steps in lifecycles]))
    assert {pid: view_of(d) for pid, d in merged.items()} == expected
    assert sum(v.units_by_status[OrderStatus.CANCELLED] for v in expected.values()) > 0
