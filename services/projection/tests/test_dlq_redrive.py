"""A poison batch for real: a decoder bug dead-letters good events, the fix ships, and
`dlq redrive` brings every one of them into the read model exactly once (Kafka, PostgreSQL,
the projection process, the CLI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from readside_core.fixtures import read_messages
from readside_core.views import json_encoder, order_to_json
from readside_testkit.ports import free_port
from readside_testkit.processes import projection_command
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration
PATCHED = [sys.executable, str(Path(__file__).parent / "patched_projection.py")]
POISONED_ORDERS = 6


def _poisoned(messages: list[tuple[bytes | None, bytes]]) -> tuple[list[Any], int]:
    """The sample with every event of a few orders carrying a user_id (what the bug rejects)."""
    orders = list(dict.fromkeys(key for key, _ in messages))[:POISONED_ORDERS]
    out, poisoned = [], 0
    for key, value in messages:
        if key in orders:
            envelope = json.loads(value)
            envelope["metadata"]["user_id"] = "alice@example.test"
            value = json.dumps(envelope).encode()
            poisoned += 1
        out.append((key, value))
    return out, poisoned


def _cli(harness: Any, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        projection_command("dlq", *args),
        env={**os.environ, **harness.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _bodies(orders: dict[str, Any]) -> dict[str, Any]:
    return {oid: json.loads(json_encoder.encode(order_to_json(v))) for oid, v in orders.items()}


async def _depth_metric(port: int, topic: str) -> float | None:
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None
    line = f'readside_projection_dlq_depth{{topic="{topic}.dlq"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else None


async def _redriven_records(harness: Any, since: dict[int, int]) -> list[Any]:
    ends = await harness.end_offsets()
    consumer = AIOKafkaConsumer(bootstrap_servers=harness.brokers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = {TopicPartition(harness.topic, p): e for p, e in ends.items() if e > since.get(p, 0)}
        consumer.assign(list(tps))
        for tp in tps:
            consumer.seek(tp, since.get(tp.partition, 0))
        records: list[Any] = []
        while len(records) < sum(e - since.get(tp.partition, 0) for tp, e in tps.items()):
            fetched = await consumer.getmany(timeout_ms=1000)
            records += [r for rs in fetched.values() for r in rs]
        return records
    finally:
        await consumer.stop()


async def test_a_poison_batch_is_redriven_into_the_read_model_exactly_once(
    harness: Any, sample_events_path: Path, sample_expected: dict[str, Any]
) -> None:
    messages, poisoned = _poisoned(list(read_messages(sample_events_path)))
    await harness.create_topic(3)
    await harness.publish(messages)
    buggy = harness.projection(command=[*PATCHED, "rejects-user-ids"])
    await harness.wait_caught_up()
    model = await harness.read_model()
    assert len(model.orders) == len(sample_expected) - POISONED_ORDERS

    listed = await eventually(
        lambda: _listed(harness, poisoned), 30, f"{poisoned} dead letters listed"
    )
    assert {d["topic"] for d in listed["deadLetters"]} == {harness.topic}
    assert all("metadata.user_id" in d["error"] for d in listed["deadLetters"])
    assert listed["depth"] == poisoned
    assert _cli(harness, "list", "--error", "no such error")["shown"] == 0
    assert _cli(harness, "list", "--since", "2999-01-01T00:00:00Z")["shown"] == 0

    assert buggy.kill(signal.SIGTERM) == 0  # the fix ships: the plain projection
    ops = free_port()
    harness.projection(OPS_PORT=str(ops), OPS_HOST="127.0.0.1", DLQ_DEPTH_SECONDS="0.5")
    await eventually(
        lambda: _depth_is(ops, harness.topic, poisoned), 60, f"dlq depth {poisoned}", 0.2
    )

    before = await harness.end_offsets()
    dry = _cli(harness, "redrive", "--error", "user_id", "--dry-run")
    assert (dry["selected"], dry["sent"]) == (poisoned, 0)
    assert await harness.end_offsets() == before  # a dry run sends nothing

    sent = _cli(harness, "redrive", "--error", "user_id")
    assert (sent["selected"], sent["sent"]) == (poisoned, poisoned)
    await harness.wait_caught_up()
    model = await harness.read_model()
    assert _bodies(model.orders) == sample_expected  # every order, every event once
    assert all(len(set(v.event_id_list())) == v.version for v in model.orders.values())
    assert model.summaries_json() == model.expected_summaries_json()

    redriven = await _redriven_records(harness, before)
    assert len(redriven) == poisoned
    origins = {dict(r.headers)["dlq.redriven.from"].decode() for r in redriven}
    assert len(origins) == poisoned
    assert all(o.startswith(f"{harness.topic}.dlq:") for o in origins)
    assert not any(k.startswith("dlq.error") for r in redriven for k, _ in r.headers)

    again = _cli(harness, "redrive", "--all")
    assert (again["selected"], again["sent"], again["alreadyRedriven"]) == (0, 0, poisoned)
    assert sum((await harness.end_offsets()).values()) == sum(before.values()) + poisoned
    assert _cli(harness, "list", "--pending")["shown"] == 0
    await eventually(lambda: _depth_is(ops, harness.topic, 0), 60, "dlq depth 0", 0.2)

    # A redrive that died after sending, before recording its progress, sends them again:
    # the events were applied already, so the read model does not change.
    await _forget_progress(harness)
    resent = _cli(harness, "redrive", "--all")
    assert resent["sent"] == poisoned
    await harness.wait_caught_up()
    assert _bodies((await harness.read_model()).orders) == sample_expected


async def _forget_progress(harness: Any) -> None:
    dlq = f"{harness.topic}.dlq"
    ends = await harness.end_offsets(dlq)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=harness.brokers, group_id=f"{dlq}.redrive", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(dlq, p) for p in ends]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in tps})
    finally:
        await consumer.stop()


def _listed(harness: Any, count: int) -> dict[str, Any] | None:
    report = _cli(harness, "list")
    return report if report["total"] == count else None


async def _depth_is(port: int, topic: str, value: int) -> bool:
    return await _depth_metric(port, topic) == value


async def test_really_bad_events_are_discarded_not_sent_and_leave_the_depth(
    harness: Any, sample_events_path: Path
) -> None:
    good = list(read_messages(sample_events_path))[:3]
    bad = [(good[0][0], b"{not json"), (good[1][0], b"[1, 2]")]
    await harness.create_topic(1)
    await harness.publish([*good, *bad])
    harness.projection()
    await harness.wait_caught_up()
    await eventually(lambda: _listed(harness, len(bad)), 30, "the dead letters listed")
    before = await harness.end_offsets()

    dry = _cli(harness, "discard", "--error", "envelope", "--dry-run")
    assert dry["selected"] == len(bad)
    assert _cli(harness, "list", "--pending")["shown"] == len(bad)
    done = _cli(harness, "discard", "--error", "envelope")
    assert (done["discarded"], done["sent"]) == (len(bad), 0)
    listed = _cli(harness, "list", "--pending")
    assert (listed["shown"], listed["depth"]) == (0, 0)
    again = _cli(harness, "redrive", "--all")
    assert (again["selected"], again["alreadyRedriven"]) == (0, len(bad))
    assert await harness.end_offsets() == before
