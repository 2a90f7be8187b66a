"""What operators see: the ops endpoint, a clean SIGTERM, traces continuing the producer's."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from readside_core.fixtures import read_messages
from readside_testkit.ports import free_port
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


async def test_ops_endpoint_reports_liveness_readiness_and_metrics(
    harness: Any, sample_events_path: Path
) -> None:
    port = free_port()
    await harness.publish(read_messages(sample_events_path))
    harness.projection(OPS_PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    await eventually(lambda: (r := _get(base + "/livez")) and r.status_code == 200, 30, "/livez")
    await harness.wait_caught_up()
    ready = await eventually(
        lambda: (r := _get(base + "/readyz")) and r.status_code == 200 and r,
        30,
        "/readyz to say ready",
    )
    assert ready.text == "ready\n"
    metrics = _get(base + "/metrics")
    assert metrics is not None
    text = metrics.text
    assert 'readside_projection_events_total{outcome="applied"} 114.0' in text
    assert "readside_projection_batch_seconds_bucket" in text
    assert f'readside_projection_stored_offset{{partition="0",topic="{harness.topic}"}}' in text
    assert f'readside_projection_lag{{partition="0",topic="{harness.topic}"}} 0.0' in text


async def test_sigterm_commits_leaves_the_group_and_exits_cleanly(
    harness: Any, sample_events_path: Path
) -> None:
    await harness.publish(read_messages(sample_events_path))
    process = harness.projection()
    await harness.wait_caught_up()
    started = time.monotonic()
    assert process.kill(signal.SIGTERM) == 0
    assert time.monotonic() - started < 15
    assert "leaving the consumer group" in process.log_tail()
    admin = AIOKafkaAdminClient(bootstrap_servers=harness.brokers)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([harness.group])
        group = described[0].groups[0]  # (error, group, state, protocol type, protocol, members)
        assert group[2] == "Empty"
        assert list(group[5]) == []
    finally:
        await admin.close()


async def test_a_batch_span_continues_the_producers_traceparent(
    harness: Any, sample_events_path: Path, otlp_collector: Any
) -> None:
    from readside_projection.events_tool import publish

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01".encode()
    await publish(
        read_messages(sample_events_path),
        brokers=harness.brokers,
        topic=harness.topic,
        headers=[("traceparent", traceparent)],
    )
    process = harness.projection(
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_collector.endpoint, OTEL_BSP_SCHEDULE_DELAY="100"
    )
    await harness.wait_caught_up()
    process.kill(signal.SIGTERM)  # flushes the span processor on exit

    def batch_spans() -> list[Any]:
        return [s for _, s in otlp_collector.spans() if s.name == "projection.batch"]

    spans = await eventually(batch_spans, 20, "a projection.batch span at the collector")
    assert spans[0].trace_id.hex() == trace_id
