"""OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request gives HTTP, SQL, Redis spans."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest
import redis

from readside_core.read_model_version import PUBLIC
from readside_core.views import OrderView
from readside_testkit.processes import running_query_service
from readside_testkit.waiting import wait_until

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
    # A cache miss, whatever earlier tests cached: the request then reads PostgreSQL too.
    redis.Redis.from_url(query_redis_url).delete(PUBLIC.order_key(order_id))
    with running_query_service(env) as base:
        assert httpx.get(f"{base}/api/v1/orders/{order_id}", timeout=5).status_code == 200

        # The readiness probe before the request makes SQL and Redis spans too: look only at
        # the spans that share the order request's trace.
        def request_traced_through_every_layer() -> bool:
            spans = otlp_collector.spans()
            traces = {s.trace_id for _, s in spans if "/api/v1/orders" in s.name}
            scopes = {name for name, s in spans if s.trace_id in traces}
            return all(any(part in s for s in scopes) for part in ("asgi", "sqlalchemy", "redis"))

        what = "the order request's trace to have asgi, sqlalchemy and redis spans"
        wait_until(request_traced_through_every_layer, 20, what, interval=0.2)
