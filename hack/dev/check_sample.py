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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = json.loads((ROOT / "e2e" / "fixtures" / "sample.expected.json").read_text())


def fetch(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError):
        return None


def main(
    base: str = f"http://127.0.0.1:{os.environ.get('PORT', '8081')}", timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(EXPECTED)
    while pending and time.monotonic() < deadline:
        for order_id, expected in list(pending.items()):
            if fetch(f"{base}/api/v1/orders/{order_id}") == expected:
                del pending[order_id]
        if pending:
            time.sleep(0.5)
    if pending:
        sys.exit(
            f"{len(pending)} of {len(EXPECTED)} sample orders not served as expected after "
            f"{timeout:.0f}s; see .local/run/projection.log and .local/run/query.log"
        )
    order = next(iter(EXPECTED.values()))
    shipped = next(o for o in EXPECTED.values() if o["status"] == "SHIPPED")
    print(f"\nReadside is up: all {len(EXPECTED)} sample orders projected. Try:\n")
    for path in (
        f"/api/v1/orders/{order['order_id']}",
        f"/api/v1/orders/number/{order['order_number']}",
        f"/api/v1/customers/{order['customer_id']}/orders?limit=5",
        f"/api/v1/customers/{order['customer_id']}/summary",
        "/api/v1/orders/status/SHIPPED?limit=2",
        "/api/v1/orders/status/DELIVERED?created_from=2024-03-01T09:00:00Z&min_total=100",
        f"/api/v1/orders/{shipped['order_id']}",
        "/readyz",
        "/metrics",
        "/schema",
    ):
        print(f"  curl -s '{base}{path}'")
    print("\nStop everything with: make down\n")


if __name__ == "__main__":
    # An optional base URL: Tilt's forward of the query API may use another port.
    main(*sys.argv[1:2])
