"""`make bench-replay`: time to rebuild N events (default 1,000,000) InPlace and BlueGreen.

In the kind cluster (namespace readside-op-bench): the chart with the operator, the dev
PostgreSQL/Redis/Kafka. `readside-events generate` publishes the events from a pod in the
cluster; the projection folds them once (the first figure, plain projection), then a
ProjectionReplay from earliest rebuilds them InPlace, then another BlueGreen. Times are from
`kubectl apply` to phase Succeeded. `make bench-replay` brings the cluster up and builds and
loads the app images first (APP_TAG, dev by default). Prints figures; nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from readside_testkit.kind.operated import DEPLOYMENT, PROJECTION, Operated
from readside_testkit.kind.tools import CONTEXT, tool, tool_env, wait_for

NAMESPACE = "readside-op-bench"
EVENTS_PER_ORDER = 2.85  # the generator's mean (114 events for 40 orders in the sample)
MAX_REPLICAS = 3


def millicpu(quantity: str) -> int:
    """A Kubernetes CPU quantity ("250m", "2", "0.5") in millicores."""
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return int(float(quantity) * 1000)


def cpu_room(release: Operated) -> tuple[int, Counter[str]]:
    """The node's allocatable CPU not requested yet, and what each namespace requests."""
    nodes = json.loads(release.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    allocatable = sum(millicpu(node["status"]["allocatable"]["cpu"]) for node in nodes)
    pods = json.loads(release.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    requested: Counter[str] = Counter()
    for pod in pods:
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        for container in pod["spec"]["containers"]:
            cpu = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
            if cpu:
                requested[pod["metadata"]["namespace"]] += millicpu(cpu)
    return allocatable - sum(requested.values()), requested


def require_room_for_blue_green(release: Operated) -> None:
    """Stop with what to do when a BlueGreen replay's pods could not be scheduled: its
    time would be the time spent Pending, not the replay's. A BlueGreen replay adds a second
    projection Deployment, scaled up to MAX_REPLICAS by lag; at the swap the live one may be
    at MAX_REPLICAS too and restarts with one surge pod (maxSurge 1, maxUnavailable 0) while
    the shadow's pods still run. Each pod requests what the installed projection's pods do.
    (A run that counted the shadow's pods only stalled 9 minutes in Swapping: a shadow pod
    and the live surge pod Pending, "Insufficient cpu".)"""
    live = release.get("deployment", DEPLOYMENT)["spec"]
    container = live["template"]["spec"]["containers"][0]
    pods = MAX_REPLICAS + (MAX_REPLICAS - int(live.get("replicas") or 0)) + 1
    needed = pods * millicpu(container["resources"]["requests"]["cpu"])
    free, requested = cpu_room(release)
    if free >= needed:
        return
    others = ", ".join(
        f"{namespace} {cpu}m"
        for namespace, cpu in requested.most_common()
        if namespace not in (NAMESPACE, "kube-system", "local-path-storage")
    )
    sys.exit(
        f"the kind node has {free}m CPU left to request, a BlueGreen replay needs "
        f"{needed}m: free it (requests by namespace: {others or 'none'}), e.g. "
        "`helm uninstall` another suite's release or `kubectl delete namespace` it"
    )


def lag(release: Operated) -> int | None:
    status = release.get("projection", PROJECTION).get("status") or {}
    return (status.get("lag") or {}).get("total")


def publish(release: Operated, orders: int) -> None:
    """`readside-events generate` straight into the in-cluster Kafka, from one pod."""
    command = ["readside-events", "generate", "--orders", str(orders)]
    release.kubectl("delete", "pod", "bench-generate", "--ignore-not-found", timeout=120)
    release.kubectl(*release.run_args("bench-generate", "readside-projection", command))
    wait_for(
        "the generator pod to finish",
        lambda: (
            release.get("pod", "bench-generate")["status"].get("phase") in ("Succeeded", "Failed")
        ),
        timeout=3600,
        every=5,
    )


def replay(release: Operated, name: str, strategy: str) -> float:
    started = time.monotonic()
    release.replay(name, strategy=strategy, **{"from": {"earliest": True}})
    status = release.wait_phase(name, "Succeeded", "Failed", timeout=7200)
    took = time.monotonic() - started
    if status["phase"] != "Succeeded":
        sys.exit(f"replay {name} failed: {status.get('message')}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    kubectl, helm = tool("kubectl"), tool("helm")
    if not kubectl or not helm:
        sys.exit("kubectl and helm not found: make toolchain")
    os.environ.update(tool_env())
    release = Operated(kubectl, helm, NAMESPACE)
    release.fresh_install(
        f"projection.resource.autoscaling.maxReplicas={MAX_REPLICAS}",
        "projection.resource.autoscaling.lagPerReplica=100000",
        "projection.resource.autoscaling.pollIntervalSeconds=5",
        "projection.resource.autoscaling.scaleDownStabilizationSeconds=60",
    )
    require_room_for_blue_green(release)
    orders = int(args.events / EVENTS_PER_ORDER)
    print(f"load average at the start: {_load()}", flush=True)
    started = time.monotonic()
    publish(release, orders)
    published = time.monotonic() - started
    wait_for("the first projection caught up", lambda: lag(release) == 0, timeout=7200, every=5)
    first = time.monotonic() - started
    count = release.psql("SELECT sum(version) FROM order_views")
    print(
        f"events: {count} applied ({orders} orders); published in {published:.0f}s, "
        f"projected (publish included) in {first:.0f}s  [{CONTEXT}, 2 cores shared]"
    )
    in_place = replay(release, "bench-inplace", "InPlace")
    print(f"InPlace replay from earliest: {in_place:.0f}s ({int(count) / in_place:,.0f} events/s)")
    blue_green = replay(release, "bench-bluegreen", "BlueGreen")
    print(
        f"BlueGreen replay from earliest: {blue_green:.0f}s "
        f"({int(count) / blue_green:,.0f} events/s), the live version serving throughout"
    )
    print(f"load average at the end: {_load()}")


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


if __name__ == "__main__":
    main()
