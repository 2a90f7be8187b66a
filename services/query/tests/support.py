"""Test helpers: fold events into views and write them the way the projection will.

The projection service owns writing in production; these helpers stand in for it so the
query service can be tested on its own (including the cache protocol's write side).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from uuid import UUID, uuid4

import httpx
import redis.asyncio as aioredis
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.cache import (
    BUMP_GENERATIONS,
    INVALIDATION_CHANNEL,
    SET_IF_NEWER,
    Invalidation,
    invalidation_encoder,
)
from readside_core.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderEvent,
    OrderItem,
    OrderPayload,
    OrderShipped,
    decode_event,
)
from readside_core.fixtures import read_messages
from readside_core.fold import FoldOutcome, fold_events, fold_order_event
from readside_core.read_model_version import PUBLIC, customer_scope, status_scope
from readside_core.repository import view_from_row
from readside_core.schema import customer_summaries, order_views
from readside_core.views import OrderView, json_encoder, order_to_json, summarize_customer

T = TypeVar("T")


def fold_file(path: Path) -> dict[UUID, OrderView]:
    events = [decode_event(value) for _, value in read_messages(path)]
    views, _ = fold_events({}, [e for e in events if isinstance(e, OrderEvent)])
    return views


def view_row(view: OrderView) -> dict[str, object]:
    return {
        "order_id": view.order_id,
        "customer_id": view.customer_id,
        "order_number": view.order_number,
        "status": view.status.value,
        "total_amount": view.total_amount,
        "currency": view.currency,
        "items": view.items,
        "shipping_address": view.shipping_address,
        "tracking_number": view.tracking_number,
        "carrier": view.carrier,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "version": view.version,
        "event_ids": list(view.event_ids),
    }


async def write_views(engine: AsyncEngine, views: Iterable[OrderView]) -> None:
    """Upsert the views and recompute their customers' summaries from every stored order."""
    views = list(views)
    async with engine.begin() as conn:
        for start in range(0, len(views), 1000):
            rows = [view_row(v) for v in views[start : start + 1000]]
            stmt = insert(order_views).values(rows)
            columns = {c: stmt.excluded[c] for c in rows[0] if c != "order_id"}
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["order_id"], set_=columns)
            )
        customers = {v.customer_id for v in views}
        result = await conn.execute(
            order_views.select().where(order_views.c.customer_id.in_(customers))
        )
        by_customer: dict[UUID, list[OrderView]] = defaultdict(list)
        for row in result.mappings():
            view = view_from_row(row)
            by_customer[view.customer_id].append(view)
        for orders in by_customer.values():
            summary = summarize_customer(orders)
            values = {
                "customer_id": summary.customer_id,
                "order_count": summary.order_count,
                "orders_by_status": summary.orders_by_status,
                "spent_by_currency": summary.spent_by_currency,
                "first_order_at": summary.first_order_at,
                "last_order_at": summary.last_order_at,
            }
            stmt = insert(customer_summaries).values(values)
            update = {k: stmt.excluded[k] for k in values if k != "customer_id"}
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=["customer_id"], set_=update)
            )


async def publish_changes(
    redis_url: str, views: Iterable[OrderView], ttl: int = 300, old_statuses: Iterable[str] = ()
) -> None:
    """What the projection does after a commit: write through, bump generations, publish."""
    views = list(views)
    client = aioredis.from_url(redis_url)
    try:
        set_if_newer = client.register_script(SET_IF_NEWER)
        bump = client.register_script(BUMP_GENERATIONS)
        scopes = {customer_scope(v.customer_id) for v in views}
        scopes |= {status_scope(v.status.value) for v in views}
        scopes |= {status_scope(s) for s in old_statuses}
        args: list[object] = [ttl]
        for view in views:
            args += [view.version, json_encoder.encode(order_to_json(view))]
        await set_if_newer(keys=[PUBLIC.order_key(v.order_id) for v in views], args=args)
        await bump(keys=[PUBLIC.generation_key(s) for s in sorted(scopes)], args=[ttl])
        message = Invalidation(orders=[str(v.order_id) for v in views], scopes=sorted(scopes))
        await client.publish(INVALIDATION_CHANNEL, invalidation_encoder.encode(message))
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def eventually(check: Callable[[], Awaitable[T]], within: float = 10.0) -> T:
    """Await `check()` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s; last value: {value!r}")
        await asyncio.sleep(0.05)


@contextmanager
def running_query_service(env: dict[str, str], timeout: float = 30.0) -> Iterator[str]:
    """Start `readside-query` (real Granian) on a free port; yield its base URL once ready."""
    port = free_port()
    full_env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "warning"}
    full_env.update(env)
    command = [sys.executable, "-m", "readside_query.main"]
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(command, env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log_file.seek(0)
                output = log_file.read().decode(errors="replace")
                raise AssertionError(f"readside-query exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"readside-query not ready on {base} within {timeout}s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


# --- building orders through the fold, as the projection would --------------------------


def _event(order_id: UUID, payload: OrderPayload, at: datetime) -> OrderEvent:
    return OrderEvent(
        event_id=uuid4(),
        order_id=order_id,
        event_type=type(payload).__name__,
        timestamp=at,
        payload=payload,
    )


def _apply(
    view: OrderView | None, order_id: UUID, payload: OrderPayload, at: datetime
) -> OrderView:
    result = fold_order_event(view, _event(order_id, payload, at))
    assert result.outcome is FoldOutcome.APPLIED, result.outcome
    assert result.view is not None
    return result.view


def created(
    customer_id: UUID, at: datetime, total: str = "100.00", currency: str = "USD"
) -> OrderView:
    order_id = uuid4()
    item = OrderItem(product_id=uuid4(), sku="SKU-1", quantity=1, unit_price=Decimal(total))
    payload = OrderCreated(
        order_id=order_id,
        customer_id=customer_id,
        order_number=f"ORD-{order_id.hex[:12]}",
        items=(item,),
        total_amount=Decimal(total),
        currency=currency,
        created_at=at,
    )
    return _apply(None, order_id, payload, at)


def confirmed(view: OrderView, at: datetime) -> OrderView:
    return _apply(view, view.order_id, OrderConfirmed(order_id=view.order_id, confirmed_at=at), at)


def cancelled(view: OrderView, at: datetime) -> OrderView:
    payload = OrderCancelled(order_id=view.order_id, reason="test", cancelled_at=at)
    return _apply(view, view.order_id, payload, at)


def shipped(
    view: OrderView, at: datetime, tracking: str = "TRK-1", carrier: str = "UPS"
) -> OrderView:
    payload = OrderShipped(
        order_id=view.order_id, tracking_number=tracking, carrier=carrier, shipped_at=at
    )
    return _apply(view, view.order_id, payload, at)


def delivered(view: OrderView, at: datetime) -> OrderView:
    return _apply(view, view.order_id, OrderDelivered(order_id=view.order_id, delivered_at=at), at)


def as_json(value: object) -> object:
    """What a client parses from our JSON: for comparing with API responses."""
    return json.loads(json_encoder.encode(value))


REPO = Path(__file__).resolve().parents[3]


def stack(*args: str) -> None:
    """hack/stack/stack.sh, as the root conftest runs it: start and stop the local servers."""
    done = subprocess.run(
        ["bash", str(REPO / "hack" / "stack" / "stack.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
