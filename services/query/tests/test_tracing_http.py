"""OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request gives HTTP, SQL, Redis spans."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import httpx
import pytest
from support import running_query_service

from readside_core.views import OrderView

pytestmark = pytest.mark.integration


def test_a_request_is_traced_through_http_sql_and_redis(
    database_url: str,
    query_redis_url: str,
    sample_views: dict[UUID, OrderView],
    otlp_collector: Any,
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": query_redis_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "LOCAL_CACHE_SIZE": "0",
    }
    order_id = next(iter(sample_views))
    with running_query_service(env) as base:
        assert httpx.get(f"{base}/api/v1/orders/{order_id}", timeout=5).status_code == 200
        deadline = time.monotonic() + 20
        while True:
            scopes = {name for name, _ in otlp_collector.spans()}
            if all(any(part in s for s in scopes) for part in ("asgi", "sqlalchemy", "redis")):
                break
            assert time.monotonic() < deadline, f"spans seen from {sorted(scopes)}"
            time.sleep(0.2)
    names = {span.name for _, span in otlp_collector.spans()}
    assert any("/api/v1/orders" in name for name in names), names
