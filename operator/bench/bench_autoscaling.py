"""`make bench-autoscaling`: how often the operator scales under a sawtooth load (flapping).

A closed loop on real parts: the local stack's Kafka, a real kube-apiserver (the toolchain's
etcd + kube-apiserver on loopback, no nodes) and the `readside-operator` process. Load
follows a sawtooth (0 -> --peak events/s over each --period seconds, then back to 0). A
simulated projection consumes for the group at --per-replica events/s times the replicas
the Deployment has *right now* (its spec, as the operator patches it), by committing offsets.
At the end it prints the scalings (Events), up/down counts, reversals within the
stabilization window, and the replica timeline; nothing asserts.
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
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from readside_testkit.kind.apiserver import can_start_local, local_api_server
from readside_testkit.kind.tools import BIN, CHART, run
from readside_testkit.ports import free_port
from readside_testkit.stack import REPO, stack

PARTITIONS = 6


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None) -> str:
    cmd = [str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig), *args]
    return run(cmd, input_text=input_text).stdout


async def loop(args: argparse.Namespace, brokers: str, kubeconfig: Path) -> None:
    topic = f"bench-scale-{uuid.uuid4().hex[:8]}"
    group = f"{topic}-group"
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    manifest = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "projection", "namespace": "bench"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "p"}},
                "template": {
                    "metadata": {"labels": {"app": "p"}},
                    "spec": {"containers": [{"name": "projection", "image": "none"}]},
                },
            },
        },
        {
            "apiVersion": "readside.io/v1alpha1",
            "kind": "Projection",
            "metadata": {"name": "orders", "namespace": "bench"},
            "spec": {
                "topic": topic,
                "consumerGroup": group,
                "bootstrapServers": brokers,
                "deployment": "projection",
                "autoscaling": {
                    "minReplicas": 1,
                    "maxReplicas": PARTITIONS,
                    "lagPerReplica": args.lag_per_replica,
                    "scaleDownStabilizationSeconds": args.window,
                    "pollIntervalSeconds": args.poll,
                },
            },
        },
    ]
    for obj in manifest:
        kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(obj))

    producer = AIOKafkaProducer(bootstrap_servers=brokers, linger_ms=20)
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=group, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    committed = dict.fromkeys(tps, 0)
    timeline: list[tuple[float, int, int]] = []
    started = time.monotonic()
    produced = 0
    try:
        while (elapsed := time.monotonic() - started) < args.duration:
            tick = time.monotonic()
            rate = args.peak * ((elapsed % args.period) / args.period)
            batch = int(rate)
            for i in range(batch):
                await producer.send(topic, b"{}", partition=(produced + i) % PARTITIONS)
            produced += batch
            replicas = json.loads(
                kubectl(kubeconfig, "-n", "bench", "get", "deploy/projection", "-o", "json")
            )["spec"]["replicas"]
            end = await consumer.end_offsets(tps)
            budget = replicas * args.per_replica // PARTITIONS
            for tp in tps:
                committed[tp] = min(end[tp], committed[tp] + budget)
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in committed.items()})
            lag = sum(end[tp] - committed[tp] for tp in tps)
            timeline.append((elapsed, replicas, lag))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        await producer.stop()
        await consumer.stop()
    report(args, kubeconfig, timeline, produced)


def report(
    args: argparse.Namespace,
    kubeconfig: Path,
    timeline: list[tuple[float, int, int]],
    produced: int,
) -> None:
    events = json.loads(kubectl(kubeconfig, "-n", "bench", "get", "events", "-o", "json"))["items"]
    scalings = [e for e in events if e["reason"] == "Scaled"]
    changes = [
        (t, r) for (t, r, _), (_, prev, _) in zip(timeline[1:], timeline, strict=False) if r != prev
    ]
    ups = sum(
        1 for (t, r), (_, p) in zip(changes, [(0, timeline[0][1]), *changes], strict=False) if r > p
    )
    reversals = 0
    for (t1, r1), (_t2, r2), (t3, r3) in zip(changes, changes[1:], changes[2:], strict=False):
        if (r2 - r1) * (r3 - r2) < 0 and t3 - t1 < args.window:
            reversals += 1
    print(
        f"sawtooth {args.duration:.0f}s: period {args.period}s, peak {args.peak} ev/s, "
        f"{args.per_replica} ev/s per replica, lagPerReplica {args.lag_per_replica}, "
        f"window {args.window}s, poll {args.poll}s"
    )
    print(f"events produced: {produced}; max lag {max(lag for _, _, lag in timeline)}")
    print(
        f"scalings: {sum(e.get('count', 1) for e in scalings)} Events "
        f"({len(changes)} replica changes seen: {ups} up, {len(changes) - ups} down); "
        f"reversals inside the window: {reversals}"
    )
    print("replica changes (s, replicas): " + ", ".join(f"{t:.0f}:{r}" for t, r in changes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--period", type=float, default=120)
    parser.add_argument("--peak", type=int, default=3000, help="events/s at the top of a tooth")
    parser.add_argument("--per-replica", type=int, default=600, help="events/s one replica does")
    parser.add_argument("--lag-per-replica", type=int, default=2000)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--poll", type=int, default=5)
    args = parser.parse_args()
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
        operator = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "readside-operator"),
                "--namespace=bench",
                f"--liveness=http://127.0.0.1:{free_port()}/healthz",
            ],
            env={**os.environ, "KUBECONFIG": str(kubeconfig), "METRICS_PORT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            asyncio.run(loop(args, brokers, kubeconfig))
        finally:
            operator.terminate()
            operator.wait(timeout=30)


if __name__ == "__main__":
    main()
