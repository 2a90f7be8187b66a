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
import os
import sys
import time

from readside_testkit.kind.operated import PROJECTION, Operated
from readside_testkit.kind.tools import CONTEXT, tool, tool_env, wait_for

NAMESPACE = "readside-op-bench"
EVENTS_PER_ORDER = 2.85  # the generator's mean (114 events for 40 orders in the sample)


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
        "projection.resource.autoscaling.maxReplicas=3",
        "projection.resource.autoscaling.lagPerReplica=100000",
        "projection.resource.autoscaling.pollIntervalSeconds=5",
        "projection.resource.autoscaling.scaleDownStabilizationSeconds=60",
    )
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
