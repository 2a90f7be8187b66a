"""A batch PostgreSQL refuses (here: a constraint no order meets) is retried, never skipped:
/readyz and one log line say why with the SQLSTATE; once the cause is gone, the read model is
exactly the fold."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from readside_core.fixtures import read_messages
from readside_testkit.ports import free_port
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration

REFUSE = "ALTER TABLE order_views ADD CONSTRAINT refuse_all CHECK (total_amount < 0) NOT VALID"


def psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-qc", sql], check=True, capture_output=True)


def readyz(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except httpx.TransportError:
        return None


async def test_a_refused_batch_is_retried_never_skipped_and_named_with_its_sqlstate(
    harness: Any, assert_exact: Any, sample_events_path: Path
) -> None:
    psql(harness.database_url, REFUSE)
    messages = list(read_messages(sample_events_path))
    await harness.publish(messages)
    port = free_port()
    process = harness.projection(OPS_PORT=str(port))

    def refused() -> httpx.Response | None:
        answer = readyz(port)
        return answer if answer is not None and "SQLSTATE 23514" in answer.text else None

    answer = await eventually(refused, 60, "/readyz to name the refused statement")
    assert answer.status_code == 503
    assert "PostgreSQL rejected the statement" in answer.text
    assert await harness.stored_offsets() == {}  # nothing committed, nothing skipped
    await eventually(lambda: process.alive() and "refuse_all" in process.log_tail(200), 10)
    psql(harness.database_url, "ALTER TABLE order_views DROP CONSTRAINT refuse_all")
    await harness.wait_caught_up()
    await assert_exact(messages)
    log = await asyncio.to_thread(Path(process.logs[-1]).read_text)
    # Once while the cause stayed the same, not once per retry.
    assert log.count("PostgreSQL rejected the statement") == 1
