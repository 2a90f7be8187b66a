"""The views in memory: bounded, least recently used first, never a view still being written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest

from readside_core.views import OrderStatus, OrderView
from readside_projection.batch import BatchPlan
from readside_projection.view_state import ViewState

pytestmark = pytest.mark.unit
AT = datetime(2024, 3, 1, tzinfo=UTC)


def view(number: str, version: int = 1, status: OrderStatus = OrderStatus.CREATED) -> OrderView:
    return OrderView(
        order_id=uuid.uuid5(uuid.NAMESPACE_OID, number),
        customer_id=uuid.uuid5(uuid.NAMESPACE_OID, "c"),
        order_number=number,
        status=status,
        total_amount=Decimal("1.00"),
        currency="USD",
        items=[],
        created_at=AT,
        updated_at=AT,
        version=version,
    )


def test_trim_forgets_the_least_recently_used_but_never_a_pending_view() -> None:
    state = ViewState(max_orders=2)
    a, b, c = view("A"), view("B"), view("C")
    state.put({a.order_id: a, b.order_id: b, c.order_id: c})
    state.known([a.order_id])  # a is now the most recently used; b the least
    state.trim(pending={b.order_id})
    assert set(state.known([a.order_id, b.order_id, c.order_id])) == {a.order_id, b.order_id}
    assert state.owner_of("C") is None
    assert state.owner_of("B") == b.order_id


def test_a_finished_order_is_forgotten_once_committed_even_with_room_left() -> None:
    state = ViewState(max_orders=10)
    delivered = view("D", 4, OrderStatus.DELIVERED)
    cancelled = view("X", 2, OrderStatus.CANCELLED)
    shipped = view("S", 3, OrderStatus.SHIPPED)
    state.put({v.order_id: v for v in (delivered, cancelled, shipped)})
    state.trim(pending={cancelled.order_id})  # X's plan is not committed yet
    ids = [delivered.order_id, cancelled.order_id, shipped.order_id]
    assert set(state.known(ids)) == {cancelled.order_id, shipped.order_id}
    assert state.owner_of("D") is None
    state.trim(pending=set())
    assert set(state.known(ids)) == {shipped.order_id}
    # An order that moves on from a final status (a late event) is held again.
    reopened = msgspec.structs.replace(delivered, status=OrderStatus.SHIPPED, version=5)
    state.put({delivered.order_id: delivered})
    state.put({delivered.order_id: reopened})
    state.trim(pending=set())
    assert state.known([delivered.order_id]) == {delivered.order_id: reopened}


def test_order_numbers_are_known_with_their_views_and_cleared_with_them() -> None:
    state = ViewState(max_orders=10)
    a = view("A")
    state.put({a.order_id: a})
    assert state.owner_of("A") == a.order_id
    state.clear()
    assert (len(state), state.owner_of("A")) == (0, None)


def test_a_later_plan_absorbed_wins_per_order_and_keeps_every_creation() -> None:
    a1, a2, b = view("A"), view("A", version=2), view("B")
    first = BatchPlan(
        changed={a1.order_id: a1},
        created={a1.order_id},
        scopes={"status:CREATED"},
        next_offsets={("t", 0): 10},
        records=10,
    )
    later = BatchPlan(
        changed={a2.order_id: a2, b.order_id: b},
        created={b.order_id},
        scopes={"customer:c"},
        next_offsets={("t", 0): 15, ("t", 1): 3},
        records=8,
    )
    first.absorb(later)
    assert first.changed == {a2.order_id: a2, b.order_id: b}
    assert first.created == {a1.order_id, b.order_id}  # a is inserted once, at version 2
    assert first.scopes == {"status:CREATED", "customer:c"}
    assert first.next_offsets == {("t", 0): 15, ("t", 1): 3}
    assert first.records == 18
