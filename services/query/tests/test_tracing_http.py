"""OpenTelemetry: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request gives HTTP, SQL, Redis spans."""

from __future__ import annotations

import http.server
import threading
import time
from typing import Any
from uuid import UUID

import httpx
import pytest
from support import running_query_service

from readside_core.views import OrderView

pytestmark = pytest.mark.integration


class _Collector(http.server.BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP receiver keeping the protobuf bodies posted to /v1/traces."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _spans() -> list[Any]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    found = []
    for body in list(_Collector.bodies):
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
            for scope in resource.scope_spans:
                found += [(scope.scope.name, span) for span in scope.spans]
    return found


def test_a_request_is_traced_through_http_sql_and_redis(
    database_url: str, query_redis_url: str, sample_views: dict[UUID, OrderView]
) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": query_redis_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "LOCAL_CACHE_SIZE": "0",
    }
    order_id = next(iter(sample_views))
    try:
        with running_query_service(env) as base:
            assert httpx.get(f"{base}/api/v1/orders/{order_id}", timeout=5).status_code == 200
            deadline = time.monotonic() + 20
            while True:
                scopes = {name for name, _ in _spans()}
                if (
                    any("asgi" in s for s in scopes)
                    and any("sqlalchemy" in s for s in scopes)
                    and any("redis" in s for s in scopes)
                ):
                    break
                assert time.monotonic() < deadline, f"spans seen from {sorted(scopes)}"
                time.sleep(0.2)
    finally:
        server.shutdown()
    names = {span.name for _, span in _spans()}
    assert any("/api/v1/orders" in name for name in names), names
