"""The operator's autoscaling against a real API server and a real Kafka broker.

The API server is the local etcd + kube-apiserver of the toolchain (no nodes, no
controllers): Deployments have no pods, but their scale subresource, the custom resources,
their status and Events are the real thing, and lag is real consumer-group lag on the local
stack's Kafka. The operator runs as its own process (`readside-operator`), as in the chart.
What needs running pods (replays) is proven in the kind cluster (test_operator_replay.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from .apiserver import can_start_local, local_api_server
from .tools import BIN, CHART, REPO, run, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.integration]

NAMESPACE = "shop"
PARTITIONS = 4
PAUSE_ANNOTATION = "readside.io/autoscaling-paused-by"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        cmd = [str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), "-n", NAMESPACE]
        return run([*cmd, *args], input_text=input_text).stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input_text=json.dumps(obj))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json"))  # type: ignore[no-any-return]

    def replicas(self, deployment: str) -> int:
        return int(self.get("deployment", deployment)["spec"].get("replicas", 0))


@pytest.fixture(scope="module")
def cluster(stack_env: dict[str, str]) -> Iterator[Cluster]:
    why_not = can_start_local()
    if why_not:
        pytest.skip(f"no local API server: {why_not}")
    with local_api_server() as kubeconfig:
        c = Cluster(kubeconfig)
        run([str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig), "create", "ns", NAMESPACE])
        run(
            [
                str(BIN / "kubectl"),
                "--kubeconfig",
                str(kubeconfig),
                "apply",
                "-f",
                str(CHART / "crds"),
            ]
        )
        yield c


@pytest.fixture(scope="module")
def operator(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The operator process; yields its metrics URL."""
    metrics, health = _free_port(), _free_port()
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "METRICS_PORT": str(metrics),
        "LOG_FORMAT": "full",
    }
    proc = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "readside-operator"),
            f"--namespace={NAMESPACE}",
            f"--liveness=http://127.0.0.1:{health}/healthz",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for("the operator's liveness endpoint", lambda: _http_ok(health), timeout=60)
        yield f"http://127.0.0.1:{metrics}/metrics"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        print(log.read_text()[-5000:])


def _http_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Topic:
    """A fresh topic and consumer group on the local Kafka; lag is made by hand."""

    def __init__(self, brokers: str) -> None:
        self.brokers = brokers
        self.name = f"op-e2e-{uuid.uuid4().hex[:8]}"
        self.group = f"{self.name}-group"
        asyncio.run(self._create())

    async def _create(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.brokers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.name, PARTITIONS, 1)])
        finally:
            await admin.close()

    def produce(self, count: int) -> None:
        async def go() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.brokers)
            await producer.start()
            try:
                for i in range(count):
                    await producer.send(self.name, b"{}", partition=i % PARTITIONS)
                await producer.flush()
            finally:
                await producer.stop()

        asyncio.run(go())

    def consume_all(self) -> None:
        """Commit the group's offsets at the end of every partition: lag 0."""

        async def go() -> None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.brokers, group_id=self.group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                tps = [TopicPartition(self.name, p) for p in range(PARTITIONS)]
                consumer.assign(tps)
                end = await consumer.end_offsets(tps)
                await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in end.items()})
            finally:
                await consumer.stop()

        asyncio.run(go())


def projection(
    name: str, topic: Topic, deployment: str, brokers: str, **autoscaling: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "readside.io/v1alpha1",
        "kind": "Projection",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "topic": topic.name,
            "consumerGroup": topic.group,
            "bootstrapServers": brokers,
            "deployment": deployment,
            "autoscaling": {"pollIntervalSeconds": 1, **autoscaling},
        },
    }


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "projection", "image": "readside-projection:dev"}]
                },
            },
        },
    }


def test_a_lag_burst_scales_out_to_the_partition_cap_and_in_after_the_window(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    brokers = stack_env["KAFKA_BROKERS"]
    topic = Topic(brokers)
    cluster.apply(deployment("burst", 1))
    spec = {"minReplicas": 0, "maxReplicas": 8, "lagPerReplica": 100, "activationLag": 5}
    cluster.apply(
        projection("burst", topic, "burst", brokers, scaleDownStabilizationSeconds=8, **spec)
    )
    # No lag: to zero once the window has passed (minReplicas 0).
    wait_for("idle projection scaled to zero", lambda: cluster.replicas("burst") == 0, timeout=60)

    started = time.monotonic()
    topic.produce(1000)  # asks for ceil(1000 / 100) = 10, max 8, 4 partitions
    seen: list[int] = []

    def scaled_out() -> bool:
        seen.append(cluster.replicas("burst"))
        return seen[-1] == PARTITIONS

    wait_for("a lag of 1000 scales out", scaled_out, timeout=30, every=0.5)
    print(f"lag burst -> scaled out to {PARTITIONS}: {time.monotonic() - started:.1f}s")
    status = cluster.get("projection", "burst")["status"]
    assert status["lag"]["total"] == 1000
    assert status["partitions"] == PARTITIONS
    assert status["desiredReplicas"] == PARTITIONS
    assert max(seen) <= PARTITIONS

    topic.consume_all()
    drained = time.monotonic()
    wait_for(
        "lag 0 seen",
        lambda: cluster.get("projection", "burst")["status"]["lag"]["total"] == 0,
        timeout=20,
    )
    # Held for the window first: still 4 replicas a few seconds after the lag is gone.
    time.sleep(3)
    assert cluster.replicas("burst") == PARTITIONS
    wait_for("scaled in after the window", lambda: cluster.replicas("burst") == 0, timeout=30)
    assert time.monotonic() - drained >= 8 - 1
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=burst")
    assert "Scaled" in events

    topic.produce(10)  # above activationLag 5: wakes up to one replica
    wait_for("woken to one replica", lambda: cluster.replicas("burst") == 1, timeout=30)


def test_an_unreadable_kafka_keeps_the_replicas_and_says_why(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    topic = Topic(stack_env["KAFKA_BROKERS"])
    cluster.apply(deployment("blind", 3))
    cluster.apply(projection("blind", topic, "blind", "127.0.0.1:1", minReplicas=0))

    def says_why() -> bool:
        conditions = cluster.get("projection", "blind").get("status", {}).get("conditions", [])
        return any(c["type"] == "KafkaReachable" and c["status"] == "False" for c in conditions)

    wait_for("a KafkaReachable=False condition", says_why, timeout=60)
    time.sleep(3)
    assert cluster.replicas("blind") == 3
    with urllib.request.urlopen(operator, timeout=5) as response:
        text = response.read().decode()
    assert 'readside_operator_lag_errors_total{projection="blind"' in text


def test_a_paused_projection_is_not_scaled_and_the_lag_is_exported(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    brokers = stack_env["KAFKA_BROKERS"]
    topic = Topic(brokers)
    topic.produce(500)
    cluster.apply(deployment("held", 1))
    body = projection("held", topic, "held", brokers, lagPerReplica=100)
    body["metadata"]["annotations"] = {PAUSE_ANNOTATION: "some-replay"}
    cluster.apply(body)

    def reported() -> bool:
        return (
            cluster.get("projection", "held").get("status", {}).get("lag", {}).get("total") == 500
        )

    wait_for("lag reported", reported, timeout=30)
    time.sleep(3)
    assert cluster.replicas("held") == 1
    with urllib.request.urlopen(operator, timeout=5) as response:
        text = response.read().decode()
    line = next(
        row
        for row in text.splitlines()
        if row.startswith("readside_operator_projection_lag{") and 'projection="held"' in row
    )
    assert line.endswith(" 500.0")
