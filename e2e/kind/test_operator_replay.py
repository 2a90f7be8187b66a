"""ProjectionReplay end to end in the kind cluster: the chart with the operator enabled, real
Kafka, PostgreSQL, Redis, Deployments and Jobs (namespace readside-op-e2e).

Needs the three app images in the cluster: `make images-app kind-load-app` (make e2e does it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from readside_testkit.kind.operated import PROJECTION, SMALL_REQUESTS, Operated
from readside_testkit.kind.port_forward import PortForward, served_exactly
from readside_testkit.kind.release import EXPECTED, SAMPLE, generate_orders
from readside_testkit.kind.tools import REPO, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]

NAMESPACE = os.environ.get("READSIDE_OPERATOR_E2E_NAMESPACE", "readside-op-e2e")
LOCK = "readside.io/replay"
PAUSE = "readside.io/autoscaling-paused-by"


@pytest.fixture(scope="module")
def release(cluster: str, helm: str, app_images_in_kind: None) -> Iterator[Operated]:
    rel = Operated(cluster, helm, NAMESPACE)
    rel.fresh_install(
        *SMALL_REQUESTS,
        "projection.resource.autoscaling.minReplicas=1",
        "projection.resource.autoscaling.maxReplicas=3",
        "projection.resource.autoscaling.lagPerReplica=500",
        "projection.resource.autoscaling.scaleDownStabilizationSeconds=30",
        "projection.resource.autoscaling.pollIntervalSeconds=3",
    )
    rel.publish_file(SAMPLE)
    yield rel
    rel.leave()


def _released(release: Operated) -> bool:
    held = release.annotations()
    return LOCK not in held and PAUSE not in held


def test_in_place_replay_restores_a_corrupted_read_model_exactly(
    release: Operated, api: PortForward
) -> None:
    wait_for("the sample served", lambda: served_exactly(api, EXPECTED), timeout=180, every=2)
    before = release.replicas()
    release.psql(
        "UPDATE order_views SET status = 'corrupted' WHERE order_number LIKE '%1%'; "
        "DELETE FROM order_views WHERE order_number LIKE '%2%'"
    )
    assert release.psql("SELECT count(*) FROM order_views WHERE status = 'corrupted'") != "0"
    started = time.monotonic()
    release.replay("rebuild", **{"from": {"earliest": True}})
    status = release.wait_phase("rebuild", "Succeeded", "Failed", timeout=600)
    took = time.monotonic() - started
    assert status["phase"] == "Succeeded", status
    print(f"InPlace replay of the sample ({len(EXPECTED)} orders): {took:.1f}s")
    wait_for("the sample served again", lambda: served_exactly(api, EXPECTED), timeout=120)
    assert release.psql("SELECT count(*) FROM order_views WHERE status = 'corrupted'") == "0"
    assert release.psql("SELECT count(*) FROM order_views") == str(len(EXPECTED))
    assert status["progress"]["percent"] == 100
    assert status["startTime"]
    assert status["completionTime"]
    assert {"Progressing", "Complete"} <= {c["type"] for c in status["conditions"]}

    def recorded() -> bool:  # kopf posts Events in the background
        reasons = {e["reason"] for e in json.loads(release.events_of("rebuild"))["items"]}
        return {"Pausing", "Resetting", "Replaying", "Succeeded"} <= reasons

    wait_for("an Event for each phase", recorded, timeout=60)
    wait_for("the projection released", lambda: _released(release), timeout=30)
    assert release.replicas() >= max(before, 1)


def test_dry_run_reports_offsets_and_changes_nothing(release: Operated) -> None:
    before = release.replicas()
    release.replay("look", dryRun=True, **{"from": {"earliest": True}})
    status = release.wait_phase("look", "Succeeded", "Failed")
    assert status["phase"] == "Succeeded", status
    assert [o["partition"] for o in status["offsets"]] == [0, 1, 2]
    assert all(o["offset"] == 0 for o in status["offsets"])
    assert release.replicas() == before
    jobs = release.kubectl("get", "jobs", "-l", "readside.io/replay=look", "-o", "name").stdout
    assert not jobs.strip()


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"projection": "nosuch", "from": {"earliest": True}}, "Projection 'nosuch' not found"),
        ({"from": {"timestamp": "2999-01-01T00:00:00Z"}}, "is in the future"),
        ({"from": {"offsets": {"7": 3}}}, "partitions [7] the topic does not have"),
    ],
)
def test_bad_specs_fail_with_what_to_fix(
    release: Operated, spec: dict[str, Any], says: str
) -> None:
    name = f"bad-{abs(hash(json.dumps(spec))) % 10**6}"
    release.replay(name, **spec)
    status = release.wait_phase(name, "Succeeded", "Failed")
    assert status["phase"] == "Failed"
    assert says in status["message"], status["message"]
    scrape = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9090/metrics').read())"
    metrics = release.kubectl(
        "exec", "deploy/readside-operator", "--", "python", "-c", scrape
    ).stdout.replace("\\n", "\n")
    failed = [row for row in metrics.splitlines() if row.startswith("readside_replay_failed{")]
    assert any(f'replay="{name}"' in row and row.endswith(" 1.0") for row in failed), failed


def test_a_malformed_timestamp_is_refused_by_the_api_server(release: Operated) -> None:
    body = {
        "apiVersion": "readside.io/v1alpha1",
        "kind": "ProjectionReplay",
        "metadata": {"name": "malformed"},
        "spec": {"projection": PROJECTION, "from": {"timestamp": "yesterday"}},
    }
    done = release.kubectl("apply", "-f", "-", input_text=json.dumps(body), check=False)
    assert done.returncode != 0
    assert "date-time" in done.stderr or "date-time" in done.stdout


def test_replay_from_a_timestamp_rebuilds_from_that_point(
    release: Operated, api: PortForward, tmp_path: Path
) -> None:
    later = tmp_path / "later.events.jsonl"
    per_order = generate_orders(later, 15, 7)
    time.sleep(2)
    since = datetime.now(UTC).replace(microsecond=0)
    time.sleep(2)
    release.publish_file(later)
    release.replay("since", **{"from": {"timestamp": since.isoformat().replace("+00:00", "Z")}})
    status = release.wait_phase("since", "Succeeded", "Failed", timeout=600)
    assert status["phase"] == "Succeeded", status

    def only_later() -> bool:
        return all(
            api.get(f"/api/v1/orders/{order_id}")[1] is not None
            and api.get(f"/api/v1/orders/{order_id}")[1]["version"] == count
            for order_id, count in per_order.items()
        )

    wait_for("the events since the timestamp folded", only_later, timeout=120, every=2)
    assert release.psql("SELECT count(*) FROM order_views") == str(len(per_order))
    some_earlier = next(iter(EXPECTED))
    assert api.get(f"/api/v1/orders/{some_earlier}")[0] == 404
    # Back to the full stream for the tests after this one.
    release.replay("full-again", **{"from": {"earliest": True}})
    assert release.wait_phase("full-again", "Succeeded", "Failed", timeout=600)["phase"] == (
        "Succeeded"
    )


def test_deleting_a_running_replay_leaves_the_projection_running_and_autoscaled(
    release: Operated, api: PortForward
) -> None:
    before = release.replicas()
    release.replay("abandoned", **{"from": {"earliest": True}})
    release.wait_phase("abandoned", "Pausing", "Resetting")
    release.kubectl("delete", "projectionreplay", "abandoned", "--timeout=120s", timeout=150)
    wait_for("the projection released", lambda: _released(release), timeout=60)
    wait_for("replicas as before", lambda: release.replicas() == max(before, 1), timeout=60)
    wait_for(
        "a ReplayCancelled Event",
        lambda: any(
            e["reason"] == "ReplayCancelled"
            for e in json.loads(release.events_of(PROJECTION))["items"]
        ),
        timeout=60,
    )
    # Still projecting: new events are served.
    extra = REPO / ".local" / "op-e2e-extra.events.jsonl"
    generate_orders(extra, 3, 99)
    release.publish_file(extra)
    order_id = json.loads(extra.read_text().splitlines()[0])["value"]["aggregate_id"]
    wait_for(
        "a new order served", lambda: api.get(f"/api/v1/orders/{order_id}")[0] == 200, timeout=180
    )


def test_an_operator_killed_mid_replay_resumes_it_and_a_second_replay_waits(
    release: Operated,
) -> None:
    release.replay("survivor", **{"from": {"earliest": True}})
    release.wait_phase("survivor", "Pausing", "Resetting")
    release.replay("second", **{"from": {"earliest": True}})
    release.kubectl("delete", "pod", "-l", "app.kubernetes.io/component=operator", "--wait=false")
    time.sleep(3)
    assert release.status("second").get("phase", "Pending") == "Pending"
    status = release.wait_phase("survivor", "Succeeded", "Failed", timeout=600)
    assert status["phase"] == "Succeeded", status
    status = release.wait_phase("second", "Succeeded", "Failed", timeout=600)
    assert status["phase"] == "Succeeded", status
    first_done = release.status("survivor")["completionTime"]
    assert release.status("second")["startTime"] >= first_done


def test_lag_scales_the_projection_to_the_partition_cap_then_in_then_to_zero_and_back(
    release: Operated, api: PortForward, tmp_path: Path
) -> None:
    """Real pods: scale to zero while idle, a burst wakes it up to the 3-partition cap (it
    asks for 4), drained it goes back to zero after the window, one event brings one back."""
    patch = {"spec": {"autoscaling": {"minReplicas": 0, "scaleDownStabilizationSeconds": 15}}}
    release.kubectl("patch", "projection", PROJECTION, "--type=merge", "-p", json.dumps(patch))
    wait_for("idle projection scaled to zero", lambda: release.replicas() == 0, timeout=120)
    burst = tmp_path / "burst.events.jsonl"
    # Large enough that the first replica up cannot drain it before the next scaling
    # decision (with 700 orders a faster projection once did, and 3 was never asked for).
    generate_orders(burst, 2000, 11)
    lines = len(burst.read_text().splitlines())
    assert lines > 1500  # ceil(lag / 500) > 3 partitions
    seen: list[int] = []
    release.publish_file(burst)

    def scaled_out() -> bool:
        seen.append(release.replicas())
        return seen[-1] == 3

    try:
        wait_for("the burst scaled out to the partition cap", scaled_out, timeout=120, every=1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; replicas seen, once a second: {seen}") from None
    wait_for("drained and back to zero", lambda: release.replicas() == 0, timeout=300, every=2)
    seen.append(release.replicas())
    assert max(seen) == 3  # never past the partition count
    reasons = json.loads(release.events_of(PROJECTION))["items"]
    assert sum(1 for e in reasons if e["reason"] == "Scaled") >= 3
    one = tmp_path / "one.events.jsonl"
    generate_orders(one, 1, 12)
    release.publish_file(one)
    wait_for("woken to one replica", lambda: release.replicas() == 1, timeout=120)
    order_id = json.loads(one.read_text().splitlines()[0])["value"]["aggregate_id"]
    wait_for("the new order served", lambda: api.get(f"/api/v1/orders/{order_id}")[0] == 200, 180)
    patch = {"spec": {"autoscaling": {"minReplicas": 1, "scaleDownStabilizationSeconds": 30}}}
    release.kubectl("patch", "projection", PROJECTION, "--type=merge", "-p", json.dumps(patch))


# A client inside the cluster (no port-forward in the way): GET orders by id for a fixed
# time, one request at a time, and report every non-200 answer and the latencies.
READER = """
import json, os, sys, time, urllib.request, urllib.error
ids = os.environ["ORDER_IDS"].split(",")
base = "http://readside-query:8081/api/v1/orders/"
end = time.monotonic() + float(os.environ["SECONDS"])
failures, latencies, n = [], [], 0
while time.monotonic() < end:
    sent = time.monotonic()
    try:
        with urllib.request.urlopen(base + ids[n % len(ids)], timeout=30) as r:
            status = r.status
            r.read()
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception as e:
        status = repr(e)
    latencies.append(time.monotonic() - sent)
    if status != 200:
        failures.append([round(sent - end + float(os.environ["SECONDS"]), 2), status])
    n += 1
latencies.sort()
print(json.dumps({"reads": n, "failures": failures, "p50": latencies[n // 2],
                  "p99": latencies[int(n * 0.99)], "max": latencies[-1]}))
"""


def in_cluster_reader(release: Operated, order_ids: list[str], seconds: int) -> str:
    """Start the reader pod; returns its name."""
    name = f"reader-{os.urandom(3).hex()}"
    env = {"ORDER_IDS": ",".join(order_ids), "SECONDS": str(seconds)}
    command = ["python", "-c", READER]
    release.kubectl(*release.run_args(name, "readside-query", command, env=env, inherit_env=False))
    wait_for(
        "the reader pod running",
        lambda: release.get("pod", name)["status"].get("phase") in ("Running", "Succeeded"),
        timeout=120,
    )
    return name


def test_blue_green_replay_swaps_while_clients_keep_reading(
    release: Operated, api: PortForward
) -> None:
    """Last in this module: afterwards the live read model is no longer `public`."""
    wait_for("the sample served", lambda: served_exactly(api, EXPECTED), timeout=180, every=2)
    release.psql("UPDATE order_views SET status = 'corrupted'")  # the live version goes bad
    reader = in_cluster_reader(release, list(EXPECTED), seconds=75)
    time.sleep(3)
    started = time.monotonic()
    release.replay("bluegreen", strategy="BlueGreen", **{"from": {"earliest": True}})
    status = release.wait_phase("bluegreen", "Succeeded", "Failed", timeout=900)
    took = time.monotonic() - started
    assert status["phase"] == "Succeeded", status
    wait_for(
        "the reader done",
        lambda: release.get("pod", reader)["status"].get("phase") in ("Succeeded", "Failed"),
        timeout=180,
    )
    report = json.loads(release.kubectl("logs", reader).stdout.strip().splitlines()[-1])
    print(
        f"BlueGreen replay of the sample: {took:.1f}s; an in-cluster client read "
        f"{report['reads']} orders over 75 s around it: p50 {report['p50'] * 1000:.0f} ms, "
        f"p99 {report['p99'] * 1000:.0f} ms, max {report['max']:.2f} s"
    )
    assert report["reads"] > 0
    assert not report["failures"], report["failures"][:10]
    # The query API serves the rebuilt version: exactly the fold of the stream again.
    wait_for("the new version served", lambda: served_exactly(api, EXPECTED), timeout=60)
    assert release.psql("SELECT schema_name FROM readside_live_read_model") == "rm_bluegreen"
    live = release.get("projection", PROJECTION)["status"]["readModel"]
    assert live["schema"] == "rm_bluegreen"
    assert not release.kubectl(
        "get", "deploy", "-l", "readside.io/replay=bluegreen", "-o", "name"
    ).stdout.strip()
    # The live projection moved: new events land in the new version.
    extra = REPO / ".local" / "op-e2e-bg.events.jsonl"
    generate_orders(extra, 2, 5)
    release.publish_file(extra)
    order_id = json.loads(extra.read_text().splitlines()[0])["value"]["aggregate_id"]
    wait_for("a new order served", lambda: api.get(f"/api/v1/orders/{order_id}")[0] == 200, 180)
