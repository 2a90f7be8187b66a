"""`make bench-autoscaling`: how often the operator scales under a sawtooth load (flapping).

A closed loop on real parts: the local stack's Kafka, a real kube-apiserver (the toolchain's
etcd + kube-apiserver on loopback, no nodes) and the `readside-operator` process. Load
follows a sawtooth (0 -> --peak events/s over each --period seconds, then back to 0). A
simulated projection consumes for the group at --per-replica events/s times the replicas
the Deployment has *right now* (its spec, as the operator patches it), by committing offsets.
The bench also keeps, per partition, when each end offset was reached, so it knows how old
the oldest uncommitted record is (to within one tick) beside what the operator reports. At
the end it prints the scalings (Events), up/down counts, reversals within the stabilization
window, the largest lag in records and in seconds, how long a burst (a lag above replicas x
lagPerReplica, or records older than targetLagSeconds) and a load above the replicas'
capacity waited for a scale-up, the load average, and the replica timeline (--trace: every
second as CSV); nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from itertools import pairwise
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from sawtooth_measures import (  # type: ignore[import-not-found]
    PARTITIONS,
    Sim,
    Tick,
    burst_summary,
    oldest_age,
    overload_delays,
    reversals,
    scale_up_delays,
    write_trace,
)

from readside_testkit.kind.apiserver import can_start_local, local_api_server
from readside_testkit.kind.tools import BIN, CHART, run
from readside_testkit.ports import free_port
from readside_testkit.stack import REPO, stack


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None) -> str:
    cmd = [str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig), *args]
    return run(cmd, input_text=input_text).stdout


def manifest(
    args: argparse.Namespace, topic: str, group: str, brokers: str
) -> list[dict[str, object]]:
    autoscaling: dict[str, object] = {
        "minReplicas": 1,
        "maxReplicas": PARTITIONS,
        "lagPerReplica": args.lag_per_replica,
        "scaleDownStabilizationSeconds": args.window,
        "pollIntervalSeconds": args.poll,
    }
    if args.scale_down_replicas:
        policy = {"type": "Replicas", "value": args.scale_down_replicas}
        autoscaling["scaleDownPolicies"] = [policy | {"periodSeconds": args.scale_down_period}]
    if args.target_lag_seconds:
        autoscaling["targetLagSeconds"] = args.target_lag_seconds
    deployment = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "p"}},
        "template": {
            "metadata": {"labels": {"app": "p"}},
            "spec": {"containers": [{"name": "projection", "image": "none"}]},
        },
    }
    spec = {"topic": topic, "consumerGroup": group, "bootstrapServers": brokers}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "projection", "namespace": "bench"},
            "spec": deployment,
        },
        {
            "apiVersion": "readside.io/v1alpha1",
            "kind": "Projection",
            "metadata": {"name": "orders", "namespace": "bench"},
            "spec": spec | {"deployment": "projection", "autoscaling": autoscaling},
        },
    ]


def replicas_and_reported(kubeconfig: Path) -> tuple[int, float]:
    """The Deployment's replicas (spec) and the Projection's status.lag.seconds, one call."""
    found = json.loads(
        kubectl(
            kubeconfig, "-n", "bench", "get", "deploy/projection", "projection/orders", "-o", "json"
        )
    )["items"]
    by_kind = {item["kind"]: item for item in found}
    reported = by_kind["Projection"].get("status", {}).get("lag", {}).get("seconds", 0.0)
    return int(by_kind["Deployment"]["spec"]["replicas"]), float(reported)


async def loop(args: argparse.Namespace, brokers: str, kubeconfig: Path) -> None:
    topic = f"bench-scale-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    for obj in manifest(args, topic, f"{topic}-group", brokers):
        kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(obj))
    producer = AIOKafkaProducer(bootstrap_servers=brokers, linger_ms=20)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=brokers, group_id=f"{topic}-group", enable_auto_commit=False
    )
    await producer.start()
    await consumer.start()
    try:
        timeline, produced = await sawtooth(args, kubeconfig, topic, producer, consumer)
    finally:
        await producer.stop()
        await consumer.stop()
    report(args, kubeconfig, timeline, produced)


async def sawtooth(
    args: argparse.Namespace,
    kubeconfig: Path,
    topic: str,
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
) -> tuple[list[Tick], int]:
    """One tick a second: produce the tooth's rate, consume what the replicas can, record."""
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    sim = Sim(dict.fromkeys(range(PARTITIONS), 0), {p: [] for p in range(PARTITIONS)})
    timeline: list[Tick] = []
    started, produced = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < args.duration:
        tick = time.monotonic()
        batch = int(args.peak * ((elapsed % args.period) / args.period))
        for i in range(batch):
            await producer.send(topic, b"{}", partition=(produced + i) % PARTITIONS)
        produced += batch
        replicas, reported = replicas_and_reported(kubeconfig)
        end = {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        lag = sim.consume(end, replicas * args.per_replica // PARTITIONS, tick)
        await consumer.commit(
            {TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in sim.committed.items()}
        )
        age = oldest_age(sim.written, sim.committed, time.monotonic())
        timeline.append(Tick(elapsed, replicas, lag, age, reported, os.getloadavg()[0]))
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    return timeline, produced


def report(args: argparse.Namespace, kubeconfig: Path, timeline: list[Tick], produced: int) -> None:
    events = json.loads(kubectl(kubeconfig, "-n", "bench", "get", "events", "-o", "json"))["items"]
    scalings = sum(e.get("count", 1) for e in events if e["reason"] == "Scaled")
    changes = [(t.elapsed, t.replicas) for b, t in pairwise(timeline) if t.replicas != b.replicas]
    ups = sum(1 for (_, p), (_, r) in pairwise([(0.0, timeline[0].replicas), *changes]) if r > p)
    delays = scale_up_delays(timeline, args.lag_per_replica, args.target_lag_seconds)
    undone, former = reversals(changes, timeline[0].replicas, args.window)
    policy = (
        f"{args.scale_down_replicas} replica(s) per {args.scale_down_period}s"
        if args.scale_down_replicas
        else "none"
    )
    loads = [t.load for t in timeline]
    print(
        f"sawtooth {args.duration:.0f}s: period {args.period}s, peak {args.peak} ev/s, "
        f"{args.per_replica} ev/s per replica, lagPerReplica {args.lag_per_replica}, "
        f"window {args.window}s, poll {args.poll}s, scale-down policy {policy}, "
        f"targetLagSeconds {args.target_lag_seconds or 'unset'}"
    )
    print(
        f"load average (1 min): {loads[0]:.1f} at start, {min(loads):.1f}-{max(loads):.1f} "
        f"during, {loads[-1]:.1f} at end"
    )
    print(f"events produced: {produced}; max lag {max(t.lag for t in timeline)} records")
    print(
        f"max lag seconds: {max(t.lag_seconds for t in timeline):.1f} measured, "
        f"{max(t.reported_seconds for t in timeline):.1f} reported by the operator"
    )
    print(
        f"scalings: {scalings} Events ({len(changes)} replica changes seen: {ups} up, "
        f"{len(changes) - ups} down); reversals (a scaling undone within the window): "
        f"{undone} (counted as this bench did before: {former})"
    )
    overload = overload_delays(timeline, args.peak, args.period, args.per_replica)
    print(f"burst (lag over what the replicas were asked for) -> scale-up: {burst_summary(delays)}")
    print(f"load over the replicas' capacity -> scale-up: {burst_summary(overload)}")
    print("replica changes (s:replicas): " + ", ".join(f"{t:.0f}:{r}" for t, r in changes))
    if args.trace:
        write_trace(args.trace, timeline)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--period", type=float, default=120)
    parser.add_argument("--peak", type=int, default=3000, help="events/s at the top of a tooth")
    parser.add_argument("--per-replica", type=int, default=600, help="events/s one replica does")
    parser.add_argument("--lag-per-replica", type=int, default=2000)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--poll", type=int, default=5)
    parser.add_argument(
        "--scale-down-replicas", type=int, default=1, help="scaleDownPolicies: replicas (0: none)"
    )
    parser.add_argument("--scale-down-period", type=int, default=60)
    parser.add_argument("--target-lag-seconds", type=int, default=0, help="0: unset")
    parser.add_argument(
        "--trace", type=Path, help="one CSV line per second here, the operator's log beside it"
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    # SIGTERM unwinds like Ctrl-C: the local API server and the operator are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    why_not = can_start_local()
    if why_not:
        sys.exit(f"cannot start a local API server: {why_not}")
    stack("up")
    env = dict(line.split("=", 1) for line in stack("env").split() if "=" in line)
    brokers = env["KAFKA_BROKERS"].strip("'\"")
    with local_api_server() as kubeconfig:
        kubectl(kubeconfig, "create", "namespace", "bench")
        kubectl(kubeconfig, "apply", "-f", str(CHART / "crds"))
        log = args.trace.with_suffix(".operator.log").open("w") if args.trace else None
        operator = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "readside-operator"),
                "--namespace=bench",
                f"--liveness=http://127.0.0.1:{free_port()}/healthz",
            ],
            env={**os.environ, "KUBECONFIG": str(kubeconfig), "METRICS_PORT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
        )
        try:
            asyncio.run(loop(args, brokers, kubeconfig))
        finally:
            operator.terminate()
            operator.wait(timeout=30)


if __name__ == "__main__":
    main()
