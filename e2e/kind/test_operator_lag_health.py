"""The operator's lag past offsets, against a real API server and a real Kafka broker:
retention is not lag, a stalled partition is reported and cleared, and targetLagSeconds
scales on the age of the records (the harness is test_operator_apiserver's)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from readside_testkit.kind.tools import wait_for

from .test_operator_apiserver import (
    NAMESPACE,
    PARTITIONS,
    Cluster,
    OperatorProcess,
    Topic,
    deployment,
    projection,
)

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def cluster(stack_env: dict[str, str], crd_api_server: Path) -> Cluster:
    cluster = Cluster(crd_api_server)
    cluster.kubectl("create", "ns", NAMESPACE)
    return cluster


@pytest.fixture(scope="module")
def operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The running operator's metrics URL."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    process = OperatorProcess(cluster.kubeconfig, log)
    process.start()
    try:
        yield process.metrics
    finally:
        process.stop()
        print(log.read_text()[-5000:])


def _status(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.get("projection", name).get("status", {})  # type: ignore[no-any-return]


def _condition(cluster: Cluster, name: str, kind: str) -> dict[str, Any]:
    found = _status(cluster, name).get("conditions", [])
    return next((c for c in found if c["type"] == kind), {})


def _metric(url: str, name: str, projection_name: str) -> float | None:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    for row in text.splitlines():
        if row.startswith(f"{name}{{") and f'projection="{projection_name}"' in row:
            return float(row.rsplit(" ", 1)[1])
    return None


def _commit(topic: Topic, offsets: dict[int, int]) -> None:
    async def go() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=topic.brokers, group_id=topic.group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = {TopicPartition(topic.name, p): o for p, o in offsets.items()}
            consumer.assign(list(tps))
            await consumer.commit(tps)
        finally:
            await consumer.stop()

    asyncio.run(go())


def _delete_before(topic: Topic, offset: int) -> None:
    """Move every partition's log start to `offset`, as retention deleting old segments does
    (the broker checks retention every 5 minutes by default: too slow for a test)."""

    async def go() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=topic.brokers)
        await admin.start()
        try:
            tps = [TopicPartition(topic.name, p) for p in range(PARTITIONS)]
            await admin.delete_records(dict.fromkeys(tps, RecordsToDelete(offset)))
        finally:
            await admin.close()

    asyncio.run(go())


def test_records_deleted_by_retention_are_not_counted_as_lag(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    brokers = stack_env["KAFKA_BROKERS"]
    topic = Topic(brokers)
    topic.produce(100 * PARTITIONS)  # 100 records per partition
    _commit(topic, {0: 10, 1: 10, 2: 10})  # partition 3: never committed
    _delete_before(topic, 90)
    cluster.apply(deployment("retained", 1))
    cluster.apply(projection("retained", topic, "retained", brokers, lagPerReplica=50))

    def read() -> bool:
        return _status(cluster, "retained").get("lag", {}).get("total") is not None

    wait_for("the lag read", read, timeout=30)
    status = _status(cluster, "retained")
    # 10 per partition from the log start 90; end minus commit would say 90 x 4 = 360 (and 8
    # replicas capped at 4), a group without a commit counting from 0 would say 100.
    assert status["lag"]["total"] == 40
    rows = {p["partition"]: p for p in status["lag"]["partitions"]}
    assert {p: (r["logStartOffset"], r["lag"]) for p, r in rows.items()} == dict.fromkeys(
        range(PARTITIONS), (90, 10)
    )
    assert "committedOffset" not in rows[3]
    assert status["desiredReplicas"] == 1  # ceil(40 / 50)
    assert cluster.replicas("retained") == 1


class HeldPartitions:
    """A live member of the group that holds its partitions and commits nothing (a stuck
    consumer), on its own thread and event loop, until told to commit."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.consumer: AIOKafkaConsumer | None = None
        self._run(self._start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    async def _start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            self.topic.name,
            bootstrap_servers=self.topic.brokers,
            group_id=self.topic.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self.consumer.start()
        await self.consumer.getmany(timeout_ms=2000)  # joins; reads, but commits nothing

    def commit_everything(self) -> None:
        """The consumer moves at last: it commits up to the end of its partitions."""

        async def go() -> None:
            assert self.consumer is not None
            tps = [TopicPartition(self.topic.name, p) for p in range(PARTITIONS)]
            end = await self.consumer.end_offsets(tps)
            await self.consumer.commit(end)

        self._run(go())

    def stop(self) -> None:
        if self.consumer is not None:
            self._run(self.consumer.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def test_a_stalled_partition_is_reported_once_adds_no_replicas_and_clears_when_it_moves(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    brokers = stack_env["KAFKA_BROKERS"]
    topic = Topic(brokers)
    topic.produce(200)
    held = HeldPartitions(topic)
    try:
        cluster.apply(deployment("stuck", 1))
        policy = {"lagPerReplica": 50, "stalledAfterPolls": 3, "scaleDownStabilizationSeconds": 2}
        cluster.apply(projection("stuck", topic, "stuck", brokers, **policy))

        def stalled() -> bool:
            return _condition(cluster, "stuck", "Stalled").get("status") == "True"

        wait_for("a Stalled condition", stalled, timeout=60)
        message = _condition(cluster, "stuck", "Stalled")["message"]
        assert all(f"partition {p} at offset 0 (lag 50" in message for p in range(PARTITIONS))
        assert "1 live member(s)" in message
        # 200 records asked for 4 replicas until the stall; stalled, their lag asks for none.
        wait_for("back to one replica", lambda: cluster.replicas("stuck") == 1, timeout=30)
        assert _metric(operator, "readside_operator_projection_stalled_partitions", "stuck") == 4
        listed = cluster.kubectl("get", "projection", "stuck").splitlines()
        assert listed[1].split()[3] == "True"  # NAME, LAG, LAG SECONDS, STALLED, ...
        events = _stalled_events(cluster)
        assert len(events) == 1, events  # told once, not every poll
        assert events[0]["type"] == "Warning"

        held.commit_everything()

        def cleared() -> bool:
            return _condition(cluster, "stuck", "Stalled").get("status") == "False"

        wait_for("the Stalled condition cleared", cleared, timeout=30)
        assert _status(cluster, "stuck")["lag"]["stalled"] == 0
        assert _metric(operator, "readside_operator_projection_stalled_partitions", "stuck") == 0
        assert len(_stalled_events(cluster)) == 1
    finally:
        held.stop()


def _stalled_events(cluster: Cluster) -> list[dict[str, Any]]:
    """The Stalled Events on the projection (kopf posts them in the background)."""

    def posted() -> list[dict[str, Any]]:
        found = json.loads(
            cluster.kubectl(
                "get", "events", "--field-selector", "involvedObject.name=stuck", "-o", "json"
            )
        )["items"]
        return [e for e in found if e["reason"] == "Stalled"]

    return wait_for("a Stalled Event", posted, timeout=30)  # type: ignore[no-any-return]


def test_target_lag_seconds_scales_out_on_old_records_with_a_small_offset_lag(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    brokers = stack_env["KAFKA_BROKERS"]
    topic = Topic(brokers)
    written = datetime.now(UTC) - timedelta(minutes=10)
    _produce_at(topic, written, per_partition=2)
    cluster.apply(deployment("aged", 1))
    policy = {"lagPerReplica": 1000, "targetLagSeconds": 60, "maxReplicas": 8}
    started = time.monotonic()
    cluster.apply(projection("aged", topic, "aged", brokers, **policy))
    # 8 records ask for ceil(8 / 1000) = 1 replica; 600 s old against a 60 s target asks for
    # 10 (no drain rate observed yet: nothing consumes here), capped at the 4 partitions.
    wait_for("scaled out on age", lambda: cluster.replicas("aged") == PARTITIONS, timeout=30)
    print(f"old records -> {PARTITIONS} replicas: {time.monotonic() - started:.1f}s")
    status = _status(cluster, "aged")
    assert status["lag"]["total"] == 2 * PARTITIONS
    assert 590 <= status["lag"]["seconds"] <= 700
    assert all(590 <= p["lagSeconds"] <= 700 for p in status["lag"]["partitions"])
    assert "targetLagSeconds 60" in _condition(cluster, "aged", "Scaling")["message"]
    seconds = _metric(operator, "readside_operator_projection_lag_seconds", "aged")
    assert seconds is not None
    assert seconds >= 590

    topic.consume_all()  # drained: no lag, no age
    wait_for("lag seconds back to 0", lambda: _status(cluster, "aged")["lag"]["seconds"] == 0, 30)


def _produce_at(topic: Topic, written: datetime, per_partition: int) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=topic.brokers)
        await producer.start()
        try:
            millis = int(written.timestamp() * 1000)
            for n in range(per_partition * PARTITIONS):
                await producer.send_and_wait(
                    topic.name, b"{}", partition=n % PARTITIONS, timestamp_ms=millis
                )
        finally:
            await producer.stop()

    asyncio.run(go())
