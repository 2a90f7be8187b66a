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
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from readside_testkit.kind.apiserver import (
    RESTRICTED_USER,
    restricted_kubeconfig,
)
from readside_testkit.kind.tools import BIN, CHART, REPO, run, tool, wait_for
from readside_testkit.ports import free_port

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.integration]

NAMESPACE = "shop"
PARTITIONS = 4
PAUSE_ANNOTATION = "readside.io/autoscaling-paused-by"


class Cluster:
    def __init__(self, kubeconfig: Path, namespace: str = NAMESPACE) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        cmd = [str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), "-n", self.namespace]
        return run([*cmd, *args], input_text=input_text).stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input_text=json.dumps(obj))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json"))  # type: ignore[no-any-return]

    def replicas(self, deployment: str) -> int:
        return int(self.get("deployment", deployment)["spec"].get("replicas", 0))

    def exists(self, kind: str, name: str) -> bool:
        found = self.kubectl("get", kind, "--ignore-not-found", "-o", "name")
        return f"/{name}" in found

    def patch_status(self, kind: str, name: str, status: dict[str, Any]) -> None:
        patch = json.dumps({"status": status})
        self.kubectl("patch", kind, name, "--subresource=status", "--type=merge", "-p", patch)

    def complete_job(self, name: str) -> None:
        """What the Job controller would write (there is none on this API server)."""
        self.patch_status(
            "job",
            name,
            {
                "startTime": "2026-01-01T00:00:00Z",
                "completionTime": "2026-01-01T00:00:05Z",
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            },
        )

    def replay(self, name: str, projection: str, **spec: Any) -> None:
        body = {
            "apiVersion": "readside.io/v1alpha1",
            "kind": "ProjectionReplay",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"projection": projection, **spec},
        }
        self.apply(body)

    def phase(self, replay: str) -> str:
        return str(self.get("projectionreplay", replay).get("status", {}).get("phase", ""))

    def wait_phase(self, replay: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        wait_for(f"replay {replay} in {phase}", lambda: self.phase(replay) == phase, timeout)
        return self.get("projectionreplay", replay)["status"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cluster(stack_env: dict[str, str], crd_api_server: Path) -> Cluster:
    cluster = Cluster(crd_api_server)
    cluster.kubectl("create", "ns", NAMESPACE)
    return cluster


class OperatorProcess:
    """`readside-operator` against the local API server; stop and start it at will."""

    def __init__(self, kubeconfig: Path, log: Path, namespace: str = NAMESPACE) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        self.namespace = namespace
        self.metrics = f"http://127.0.0.1:{free_port()}/metrics"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        health = free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "METRICS_PORT": self.metrics.split(":")[2].split("/")[0],
            "LOG_FORMAT": "full",
            "REPLAY_POLL_SECONDS": "0.5",
        }
        self.proc = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "readside-operator"),
                f"--namespace={self.namespace}",
                f"--liveness=http://127.0.0.1:{health}/healthz",
            ],
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for("the operator's liveness endpoint", lambda: _http_ok(health), timeout=60)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a node dies."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def operator_process(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    process = OperatorProcess(cluster.kubeconfig, log)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        print(log.read_text()[-5000:])


@pytest.fixture(scope="module")
def operator(operator_process: OperatorProcess) -> str:
    """The running operator's metrics URL."""
    return operator_process.metrics


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

    def consume_all(self, group: str | None = None) -> None:
        """Commit the group's offsets at the end of every partition: lag 0."""

        async def go() -> None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.brokers,
                group_id=group or self.group,
                enable_auto_commit=False,
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


LOCK = "readside.io/replay"


def _live_projection(cluster: Cluster, name: str, brokers: str, replicas: int = 2) -> Topic:
    topic = Topic(brokers)
    topic.produce(200)
    cluster.apply(deployment(name, replicas))
    cluster.apply(projection(name, topic, name, brokers, minReplicas=1, lagPerReplica=100000))
    wait_for("lag read", lambda: "lag" in cluster.get("projection", name).get("status", {}), 30)
    return topic


def test_in_place_replay_steps_survive_an_operator_kill_and_a_second_replay_waits(
    cluster: Cluster, operator_process: OperatorProcess, stack_env: dict[str, str]
) -> None:
    topic = _live_projection(cluster, "inplace", stack_env["KAFKA_BROKERS"])
    cluster.replay("first", "inplace", **{"from": {"earliest": True}})
    cluster.wait_phase("first", "Resetting")  # paused: 0 replicas, group empty
    assert cluster.replicas("inplace") == 0
    held = cluster.get("projection", "inplace")["metadata"]["annotations"]
    assert held[LOCK] == "first"
    assert held[PAUSE_ANNOTATION] == "first"
    # While it holds the projection, deleting the replay must release it first.
    assert cluster.get("projectionreplay", "first")["metadata"]["finalizers"] == [
        "readside.io/release-projection"
    ]
    job = cluster.get("job", "first-reset")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["reset", "--earliest"]
    assert container["image"] == "readside-projection:dev"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CONSUMER_GROUP"] == topic.group
    assert env["READ_MODEL_SCHEMA"] == "public"
    assert job["metadata"]["ownerReferences"][0]["name"] == "first"

    cluster.replay("second", "inplace", **{"from": {"earliest": True}})
    wait_for(
        "the second replay waiting",
        lambda: (
            "another replay"
            in cluster.get("projectionreplay", "second").get("status", {}).get("message", "")
        ),
        timeout=30,
    )
    operator_process.kill()  # mid-replay, without any clean-up
    cluster.complete_job("first-reset")
    operator_process.start()
    status = cluster.wait_phase("first", "Replaying")
    assert status["startLag"] == 200
    assert cluster.replicas("inplace") == 2  # back up: autoscaling works on the backlog
    assert PAUSE_ANNOTATION not in cluster.get("projection", "inplace")["metadata"]["annotations"]
    assert cluster.phase("second") == "Pending"

    topic.consume_all()
    status = cluster.wait_phase("first", "Succeeded")
    assert status["progress"] == {"eventsReplayed": 200, "lagRemaining": 0, "percent": 100}
    # Finished: nothing blocks its deletion, operator or not.
    assert not cluster.get("projectionreplay", "first")["metadata"].get("finalizers")
    assert status["startTime"] <= status["completionTime"]
    kinds = {c["type"]: c["status"] for c in status["conditions"]}
    assert kinds == {"Progressing": "False", "Complete": "True", "Failed": "False"}

    def recorded() -> bool:  # kopf posts Events in the background
        events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=first")
        return all(r in events for r in ("Pausing", "Resetting", "Replaying", "Succeeded"))

    try:
        wait_for("an Event for each phase", recorded, timeout=30)
    except AssertionError:
        print(cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=first"))
        raise

    # The second one takes over, and is deleted mid-run: the projection comes back as it was.
    cluster.wait_phase("second", "Resetting")
    assert cluster.replicas("inplace") == 0
    cluster.kubectl("delete", "projectionreplay", "second", "--timeout=60s")
    wait_for("replicas restored", lambda: cluster.replicas("inplace") == 2, timeout=30)
    annotations = cluster.get("projection", "inplace")["metadata"].get("annotations") or {}
    assert LOCK not in annotations
    assert PAUSE_ANNOTATION not in annotations
    assert not cluster.exists("job", "second-reset")
    wait_for(
        "a ReplayCancelled Event",
        lambda: (
            "ReplayCancelled"
            in cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=inplace")
        ),
        timeout=30,
    )


def test_blue_green_builds_a_shadow_promotes_it_and_moves_the_live_projection(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    topic = _live_projection(cluster, "bluegreen", stack_env["KAFKA_BROKERS"], replicas=1)
    cluster.replay("bg", "bluegreen", strategy="BlueGreen", **{"from": {"earliest": True}})
    cluster.wait_phase("bg", "Resetting")
    assert cluster.replicas("bluegreen") == 1  # the live projection keeps running
    job = cluster.get("job", "bg-reset")["spec"]["template"]["spec"]
    assert job["initContainers"][0]["args"] == ["migrate"]
    env = {e["name"]: e.get("value") for e in job["containers"][0]["env"]}
    shadow_group = f"{topic.group}-bg"
    assert env == {**env, "READ_MODEL_SCHEMA": "rm_bg", "CONSUMER_GROUP": shadow_group}

    cluster.complete_job("bg-reset")
    cluster.wait_phase("bg", "Replaying")
    shadow = cluster.get("deployment", "bluegreen-bg")
    labels = shadow["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "projection-shadow"
    shadow_env = {
        e["name"]: e.get("value")
        for e in shadow["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert shadow_env == {"READ_MODEL_SCHEMA": "rm_bg", "CONSUMER_GROUP": shadow_group}

    topic.consume_all(shadow_group)  # the shadow caught up
    cluster.wait_phase("bg", "Swapping")
    promote = cluster.get("job", "bg-promote")["spec"]["template"]["spec"]["containers"][0]
    assert promote["args"] == ["promote", "--schema", "rm_bg", "--consumer-group", shadow_group]
    cluster.complete_job("bg-promote")

    def restarted() -> bool:
        template = cluster.get("deployment", "bluegreen")["spec"]["template"]["metadata"]
        return (template.get("annotations") or {}).get("readside.io/restarted-at") == "bg"

    wait_for("the live projection restarted onto the new version", restarted, timeout=30)
    live = cluster.get("projection", "bluegreen")["status"]["readModel"]
    assert live == {"schema": "rm_bg", "consumerGroup": shadow_group}
    generation = cluster.get("deployment", "bluegreen")["metadata"]["generation"]
    cluster.patch_status(
        "deployment",
        "bluegreen",
        {
            "observedGeneration": generation,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
        },
    )
    cluster.wait_phase("bg", "Succeeded")
    wait_for("the shadow removed", lambda: not cluster.exists("deployment", "bluegreen-bg"), 30)
    # The autoscaler now reads the lag of the group the live projection moved to.
    wait_for(
        "lag of the new group",
        lambda: any(
            shadow_group in c.get("message", "")
            for c in cluster.get("projection", "bluegreen")["status"]["conditions"]
        ),
        timeout=30,
    )


def _jobs_of(cluster: Cluster, replay: str) -> dict[str, dict[str, Any]]:
    """The Jobs a replay owns, by name."""
    jobs = json.loads(cluster.kubectl("get", "jobs", "-o", "json"))["items"]
    return {
        j["metadata"]["name"]: j
        for j in jobs
        if any(o["name"] == replay for o in j["metadata"].get("ownerReferences", []))
    }


def _args(job: dict[str, Any]) -> list[str]:
    return list(job["spec"]["template"]["spec"]["containers"][0]["args"])


def test_a_253_character_replay_gets_distinct_reset_promote_and_drop_jobs(
    cluster: Cluster, operator: str, stack_env: dict[str, str]
) -> None:
    topic = _live_projection(cluster, "longbg", stack_env["KAFKA_BROKERS"], replicas=1)
    name = "long-" + "x" * 235 + ".blue-green-1"
    assert len(name) == 253
    cluster.replay(name, "longbg", strategy="BlueGreen", **{"from": {"earliest": True}})
    cluster.wait_phase(name, "Resetting")
    (reset_name, reset), *_ = _jobs_of(cluster, name).items()
    assert _args(reset) == ["reset", "--earliest"]
    cluster.complete_job(reset_name)
    status = cluster.wait_phase(name, "Replaying")
    schema, group = status["readModel"]["schema"], status["consumerGroup"]
    assert len(schema) <= 63
    assert group.startswith(topic.group)

    topic.consume_all(group)
    cluster.wait_phase(name, "Swapping")
    promote_name, promote = next(
        (n, j) for n, j in _jobs_of(cluster, name).items() if n != reset_name
    )
    assert _args(promote) == ["promote", "--schema", schema, "--consumer-group", group]
    # The bug this pins: a promote Job named like the (finished) reset Job looked done, and the
    # live projection moved without a promotion.
    time.sleep(3)
    assert cluster.phase(name) == "Swapping"
    template = cluster.get("deployment", "longbg")["spec"]["template"]["metadata"]
    assert "readside.io/restarted-at" not in (template.get("annotations") or {})

    cluster.patch_status(
        "job",
        promote_name,
        {
            "startTime": "2026-01-01T00:00:00Z",
            "failed": 3,
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"},
            ],
        },
    )
    cluster.wait_phase(name, "Failed")
    wait_for("the drop Job", lambda: len(_jobs_of(cluster, name)) == 3, timeout=30)
    jobs = _jobs_of(cluster, name)
    drop = next(j for n, j in jobs.items() if n not in (reset_name, promote_name))
    assert _args(drop) == ["drop-read-model", "--schema", schema]
    assert all(len(n) <= 63 for n in jobs)
    annotations = cluster.get("projection", "longbg")["metadata"].get("annotations") or {}
    assert LOCK not in annotations


# The chart's operator Role (operator-rbac.yaml), less the right to create Jobs.
RULES_WITHOUT_JOB_CREATE = [
    {
        "apiGroups": ["readside.io"],
        "resources": ["projections", "projectionreplays"],
        "verbs": ["get", "list", "watch", "patch"],
    },
    {
        "apiGroups": ["readside.io"],
        "resources": ["projections/status", "projectionreplays/status"],
        "verbs": ["get", "patch"],
    },
    {
        "apiGroups": ["apps"],
        "resources": ["deployments"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    },
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "delete"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
]


def test_a_forbidden_call_is_said_once_in_a_condition_and_an_event(
    cluster: Cluster, stack_env: dict[str, str], tmp_path: Path
) -> None:
    denied = Cluster(cluster.kubeconfig, "rbac")
    cluster.kubectl("create", "namespace", denied.namespace)
    meta = {"name": "operator", "namespace": denied.namespace}
    denied.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": RULES_WITHOUT_JOB_CREATE,
        }
    )
    denied.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "operator",
            },
            "subjects": [{"kind": "User", "name": RESTRICTED_USER}],
        }
    )
    brokers = stack_env["KAFKA_BROKERS"]
    topic = Topic(brokers)
    for body in (deployment("paused", 0), projection("paused", topic, "paused", brokers)):
        body["metadata"]["namespace"] = denied.namespace
        denied.apply(body)
    process = OperatorProcess(
        restricted_kubeconfig(cluster.kubeconfig), tmp_path / "operator.log", denied.namespace
    )
    process.start()
    try:
        denied.replay("denied", "paused", **{"from": {"earliest": True}})

        def round_failed() -> dict[str, Any] | None:
            conditions = (
                denied.get("projectionreplay", "denied").get("status", {}).get("conditions")
            )
            return next((c for c in conditions or [] if c["type"] == "RoundFailed"), None)

        wait_for("a RoundFailed condition", lambda: round_failed() is not None, timeout=60)
        condition = round_failed()
        assert condition is not None
        assert condition["status"] == "True"
        assert condition["reason"] == "Forbidden"
        assert "403" in condition["message"]
        assert "operator's Role" in condition["message"]
        time.sleep(5)  # ten more failing rounds at REPLAY_POLL_SECONDS=0.5
        events = json.loads(
            denied.kubectl(
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=denied,reason=RoundFailed",
                "-o",
                "json",
            )
        )["items"]
        assert len(events) == 1
        assert events[0]["type"] == "Warning"
    finally:
        process.stop()
        print((tmp_path / "operator.log").read_text()[-3000:])


READ_MODEL_PATH = "/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/readModel"


def _status_fields(cluster: Cluster) -> set[str]:
    crd = cluster.get("crd", "projectionreplays.readside.io")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return set(schema["properties"]["status"]["properties"])


def _apply_crds_command(kubeconfig: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """`readside-operator apply-crds FOLDER` as the chart's pre-upgrade hook runs it."""
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "readside-operator"), "apply-crds", str(folder)],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_apply_crds_brings_a_stale_crd_up_to_date(cluster: Cluster) -> None:
    """What the chart's pre-upgrade hook runs (helm itself never upgrades crds/)."""
    remove = json.dumps([{"op": "remove", "path": READ_MODEL_PATH}])
    cluster.kubectl("patch", "crd", "projectionreplays.readside.io", "--type=json", "-p", remove)
    assert "readModel" not in _status_fields(cluster)  # as an older chart left it
    done = _apply_crds_command(cluster.kubeconfig, CHART / "crds")
    assert done.returncode == 0, done.stderr
    applied = json.loads(done.stdout)["applied"]
    assert applied == ["projectionreplays.readside.io", "projections.readside.io"]
    assert "readModel" in _status_fields(cluster)
    refused = _apply_crds_command(cluster.kubeconfig, REPO / "e2e")
    assert refused.returncode == 2
    assert "apply-crds refused" in refused.stderr


def test_the_chart_hooks_rights_suffice_to_apply_the_crds(cluster: Cluster, tmp_path: Path) -> None:
    """The pre-upgrade hook's ServiceAccount and ClusterRole, as the chart renders them, run
    `apply-crds` (its RBAC, not an admin's) and may create the CRDs when they are absent."""
    helm = tool("helm")
    if helm is None:
        pytest.skip("helm not found in .local/toolchain/bin or on PATH (make toolchain)")
    rendered = run(
        [
            helm,
            "template",
            "readside",
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--set",
            "operator.enabled=true",
            "--set",
            "projection.resource.skipCapabilityCheck=true",
            "--show-only",
            "templates/crds-hook.yaml",
        ]
    ).stdout
    rights = [
        d for d in yaml.safe_load_all(rendered) if d and d["kind"] not in ("Job", "ConfigMap")
    ]
    assert {d["kind"] for d in rights} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    for doc in rights:
        cluster.apply(doc)
    account = f"system:serviceaccount:{NAMESPACE}:readside-crds"
    can = cluster.kubectl("auth", "can-i", "create", "customresourcedefinitions", "--as", account)
    assert can.strip() == "yes"
    token = cluster.kubectl("create", "token", "readside-crds").strip()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token}
    kubeconfig = tmp_path / "hook-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    remove = json.dumps([{"op": "remove", "path": READ_MODEL_PATH}])
    cluster.kubectl("patch", "crd", "projectionreplays.readside.io", "--type=json", "-p", remove)
    done = _apply_crds_command(kubeconfig, CHART / "crds")
    assert done.returncode == 0, done.stderr
    assert "readModel" in _status_fields(cluster)
