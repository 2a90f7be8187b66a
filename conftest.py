"""Fixtures shared by every test tier."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readside_testkit.secured import SecuredStack, secured_stack
from readside_testkit.stack import fresh_database, stack
from readside_testkit.stack import stack_env as local_stack_env

FIXTURES = Path(__file__).resolve().parent / "e2e" / "fixtures"


@pytest.fixture(scope="session")
def sample_events_path() -> Path:
    return FIXTURES / "sample.events.jsonl"


@pytest.fixture(scope="session")
def sample_expected() -> dict[str, Any]:
    """The read model the sample events must produce, by order id."""
    expected: dict[str, Any] = json.loads((FIXTURES / "sample.expected.json").read_text())
    return expected


@pytest.fixture(scope="session")
def event_versions_path() -> Path:
    """A mixed stream of OrderCreated version 1 and version 2 events, with their lifecycles."""
    return FIXTURES / "event-versions.events.jsonl"


@pytest.fixture(scope="session")
def event_versions_expected() -> dict[str, Any]:
    """The order bodies the event-versions stream must produce, by order id."""
    expected: dict[str, Any] = json.loads((FIXTURES / "event-versions.expected.json").read_text())
    return expected


# --- the local stack (hack/stack) for integration and e2e tests: see readside_testkit.stack ---


NEEDS_SECURED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note whether this session tests the secured listeners: the stack then gets them when
    it first comes up, not by a restart of every server in the middle of the session."""
    config.stash[NEEDS_SECURED] = any("secured" in getattr(i, "fixturenames", ()) for i in items)


@pytest.fixture(scope="session")
def stack_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Bring the local stack up (idempotent); return DATABASE_URL, REDIS_URL, KAFKA_BROKERS."""
    if request.config.stash.get(NEEDS_SECURED, False):
        secured_stack()
    return local_stack_env()


@pytest.fixture(scope="session")
def database_url(stack_env: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    with fresh_database(stack_env["DATABASE_URL"]) as url:
        yield url


@pytest.fixture
def fresh_database_url(stack_env: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated database for one test (whole-table comparisons need isolation)."""
    with fresh_database(stack_env["DATABASE_URL"]) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(stack_env: dict[str, str]) -> str:
    return stack_env["REDIS_URL"]


@pytest.fixture(scope="session")
def secured(stack_env: dict[str, str]) -> SecuredStack:
    """The local stack's secured listeners (hack/stack `up --secure`) and their settings."""
    return secured_stack()


@pytest.fixture(scope="session")
def stack_ctl(stack_env: dict[str, str]) -> Any:
    """`stack_ctl("stop", "redis")`, `stack_ctl("restart", "kafka")`... on the local stack."""
    return stack


class _OtlpReceiver(http.server.BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP receiver: keeps the protobuf bodies posted to /v1/traces."""

    bodies: list[bytes]

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class OtlpCollector:
    def __init__(self, endpoint: str, bodies: list[bytes]) -> None:
        self.endpoint = endpoint
        self._bodies = bodies

    def spans(self) -> list[tuple[str, Any]]:
        """(instrumentation scope name, span) for every span received so far."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        found: list[tuple[str, Any]] = []
        for body in list(self._bodies):
            for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
                for scope in resource.scope_spans:
                    found += [(scope.scope.name, span) for span in scope.spans]
        return found


@pytest.fixture
def otlp_collector() -> Iterator[OtlpCollector]:
    """A local OTLP/HTTP endpoint for OTEL_EXPORTER_OTLP_ENDPOINT, and what it received."""
    bodies: list[bytes] = []
    handler = type("Receiver", (_OtlpReceiver,), {"bodies": bodies})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield OtlpCollector(f"http://127.0.0.1:{server.server_address[1]}", bodies)
    server.shutdown()
