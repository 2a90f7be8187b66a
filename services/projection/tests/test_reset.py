"""`readside-projection reset`, run as the operator's Job will run it: the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from readside_core.db import create_engine
from readside_core.fixtures import read_messages

pytestmark = pytest.mark.integration


def _reset(harness: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "readside_projection.cli", "reset", *args],
        env={**os.environ, **harness.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _execute(harness: Any, sql: str) -> None:
    engine = create_engine(harness.database_url, pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def test_reset_to_earliest_rebuilds_a_corrupted_read_model_exactly(
    harness: Any, sample_events_path: Path, assert_exact: Any
) -> None:
    messages = list(read_messages(sample_events_path))
    await harness.publish(messages)
    process = harness.projection()
    await harness.wait_caught_up()

    refused = _reset(harness, "--earliest")
    assert refused.returncode == 2
    assert "active member" in refused.stderr

    process.kill(signal.SIGTERM)
    await _execute(harness, "UPDATE order_views SET status = 'CANCELLED', version = 99")
    done = _reset(harness, "--earliest")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["offsets"].values()) == {0}
    assert await harness.stored_offsets() == {int(p): 0 for p in report["offsets"]}
    assert (await harness.read_model()).orders == {}

    harness.projection()
    await harness.wait_caught_up()
    await assert_exact(messages)


async def test_reset_dry_run_reports_offsets_and_changes_nothing(
    harness: Any, sample_events_path: Path
) -> None:
    await harness.project_then_stop(read_messages(sample_events_path))
    before = await harness.read_model()
    stored = await harness.stored_offsets()

    dry = _reset(harness, "--offsets", "0:1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dryRun"] is True
    assert report["offsets"]["0"] == 1
    assert (await harness.read_model()).orders == before.orders
    assert await harness.stored_offsets() == stored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--offsets", "99:0"], "partition 99 does not exist"),
        (["--offsets", "0:999999"], "outside"),
        (["--offsets", "zero:1"], "PARTITION:OFFSET"),
        (["--timestamp", "2999-01-01T00:00:00Z"], "in the future"),
        (["--timestamp", "yesterday"], "RFC 3339"),
        (["--timestamp", "2024-03-01T09:00:00"], "no timezone"),
    ],
)
async def test_bad_reset_requests_are_refused_with_a_reason(
    harness: Any, sample_events_path: Path, args: list[str], message: str
) -> None:
    await harness.publish(read_messages(sample_events_path))
    result = _reset(harness, *args)
    assert result.returncode != 0
    assert message in result.stderr


async def test_reset_to_a_timestamp_replays_from_the_first_event_at_or_after_it(
    harness: Any, sample_events_path: Path
) -> None:
    await harness.project_then_stop(read_messages(sample_events_path))
    # Every sample event was published moments ago: a timestamp in the past hour replays all.
    from datetime import UTC, datetime, timedelta

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    done = _reset(harness, "--timestamp", since)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["offsets"].values()) == {0}
    now = datetime.now(UTC).isoformat()
    at_end = _reset(harness, "--timestamp", now)
    assert at_end.returncode == 0, at_end.stderr
    ends = await harness.end_offsets()
    assert {int(p): o for p, o in json.loads(at_end.stdout)["offsets"].items()} == ends
