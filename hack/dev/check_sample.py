"""Wait until the query API serves the sample read model exactly, then print curl examples.

Used by `make up` after the sample events are published: it proves the whole path (Kafka ->
projection -> PostgreSQL -> query API) instead of assuming it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = json.loads(
    (ROOT / "e2e" / "fixtures" / "sample.expected.json").read_text(), parse_float=Decimal
)
STATUSES = ("CREATED", "CONFIRMED", "CANCELLED", "SHIPPED", "DELIVERED")


def expected_products(orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The product views the sample orders make, computed here on their own (a second
    implementation of readside_core.products.fold, from the orders as the API serves them)."""
    products: dict[str, dict[str, Any]] = {}
    for order in orders:
        status, live = order["status"], order["status"] != "CANCELLED"
        seen: set[str] = set()
        for item in order["items"]:
            pid = item["product_id"]
            p = products.setdefault(pid, _empty_product(pid, item["sku"], order["created_at"]))
            p["sku"] = min((p["first_ordered_at"], p["sku"]), (order["created_at"], item["sku"]))[1]
            p["first_ordered_at"] = min(p["first_ordered_at"], order["created_at"])
            p["last_ordered_at"] = max(p["last_ordered_at"], order["created_at"])
            p["units_by_status"][status] += item["quantity"]
            p["units"] += item["quantity"] if live else 0
            revenue = p["revenue_by_currency"]
            amount = item["quantity"] * item["unit_price"] if live else Decimal(0)
            revenue[order["currency"]] = revenue.get(order["currency"], Decimal(0)) + amount
            if pid not in seen:
                seen.add(pid)
                p["orders_by_status"][status] += 1
                p["orders"] += 1 if live else 0
                p["version"] += order["version"]
    return products


def _empty_product(pid: str, sku: str, at: str) -> dict[str, Any]:
    return {
        "product_id": pid,
        "sku": sku,
        "units": 0,
        "orders": 0,
        "units_by_status": dict.fromkeys(STATUSES, 0),
        "orders_by_status": dict.fromkeys(STATUSES, 0),
        "revenue_by_currency": {},
        "first_ordered_at": at,
        "last_ordered_at": at,
        "version": 0,
    }


def fetch(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read(), parse_float=Decimal)  # type: ignore[no-any-return]
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError):
        return None


def main(
    base: str = f"http://127.0.0.1:{os.environ.get('PORT', '8081')}", timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    products = expected_products(list(EXPECTED.values()))
    pending = {
        **{f"/api/v1/orders/{k}": v for k, v in EXPECTED.items()},
        **{f"/api/v1/products/{k}": v for k, v in products.items()},
    }
    while pending and time.monotonic() < deadline:
        for path, expected in list(pending.items()):
            if fetch(f"{base}{path}") == expected:
                del pending[path]
        if pending:
            time.sleep(0.5)
    if pending:
        sys.exit(
            f"{len(pending)} of {len(EXPECTED)} sample orders and {len(products)} products not "
            f"served as expected after "
            f"{timeout:.0f}s; see .local/run/projection.log and .local/run/query.log"
        )
    order = next(iter(EXPECTED.values()))
    shipped = next(o for o in EXPECTED.values() if o["status"] == "SHIPPED")
    top = max(products.values(), key=lambda p: (p["units"], p["product_id"]))
    print(
        f"\nReadside is up: all {len(EXPECTED)} sample orders and {len(products)} products "
        "projected. Try:\n"
    )
    for path in (
        f"/api/v1/orders/{order['order_id']}",
        f"/api/v1/orders/number/{order['order_number']}",
        f"/api/v1/customers/{order['customer_id']}/orders?limit=5",
        f"/api/v1/customers/{order['customer_id']}/summary",
        "/api/v1/orders/status/SHIPPED?limit=2",
        "/api/v1/orders/status/DELIVERED?created_from=2024-03-01T09:00:00Z&min_total=100",
        f"/api/v1/orders/{shipped['order_id']}",
        f"/api/v1/products/{top['product_id']}",
        "/api/v1/products?sort=revenue&currency=USD&limit=3",
        "/readyz",
        "/metrics",
        "/schema",
    ):
        print(f"  curl -s '{base}{path}'")
    print("\nStop everything with: make down\n")


if __name__ == "__main__":
    # An optional base URL: Tilt's forward of the query API may use another port.
    main(*sys.argv[1:2])
