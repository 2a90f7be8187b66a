"""Autoscaling past offsets with real pods in the kind cluster: old records scale the
projection out by targetLagSeconds though their offset lag is small, and a projection that
cannot commit is listed as stalled, told once in an Event, and cleared when it moves
(namespace readside-as-e2e; the chart with the operator enabled, the dev Kafka with 3
partitions).

Needs the three app images in the cluster: `make images-app kind-load-app`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readside_testkit.kind.operated import DEPLOYMENT, PROJECTION, SMALL_REQUESTS, Operated
from readside_testkit.kind.release import generate_orders
from readside_testkit.kind.tools import CONTEXT, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e]

NAMESPACE = os.environ.get("READSIDE_AUTOSCALE_E2E_NAMESPACE", "readside-as-e2e")
PARTITIONS = 3  # deploy/dev's Kafka


@pytest.fixture(scope="module")
def release(cluster: str, helm: str, app_images_in_kind: None) -> Iterator[Operated]:
    rel = Operated(cluster, helm, NAMESPACE)
    rel.fresh_install(
        *SMALL_REQUESTS,
        "projection.resource.autoscaling.maxReplicas=3",
        "projection.resource.autoscaling.scaleDownStabilizationSeconds=15",
        "projection.resource.autoscaling.pollIntervalSeconds=3",
        "projection.resource.autoscaling.stalledAfterPolls=3",
    )
    # Replicas come back down at once after the window (the chart's default is 1 per 60 s).
    _autoscaling(rel, scaleDownPolicies=[])
    yield rel
    rel.leave()


def _autoscaling(release: Operated, **fields: Any) -> None:
    """Merge `fields` into the Projection's spec.autoscaling (None removes one)."""
    patch = json.dumps({"spec": {"autoscaling": fields}})
    release.kubectl("patch", "projection", PROJECTION, "--type=merge", "-p", patch)


def _status(release: Operated) -> dict[str, Any]:
    return release.get("projection", PROJECTION).get("status") or {}


def _condition(release: Operated, kind: str) -> dict[str, Any]:
    found = _status(release).get("conditions", [])
    return next((c for c in found if c["type"] == kind), {})


def _events(release: Operated, reason: str) -> list[dict[str, Any]]:
    found = json.loads(release.events_of(PROJECTION))["items"]
    return [e for e in found if e["reason"] == reason]


def _told(release: Operated, reason: str) -> int:
    """How many times an Event was posted (the API server folds repeats into a count)."""
    return sum(e.get("count") or 1 for e in _events(release, reason))


def _lag(release: Operated) -> dict[str, Any]:
    return _status(release).get("lag") or {}


def _pods(release: Operated) -> int:
    """The projection's pods, those still terminating included (each one a group member)."""
    found = release.kubectl(
        "get", "pods", "-l", "app.kubernetes.io/component=projection", "-o", "name"
    )
    return len(found.stdout.split())


def _ends(release: Operated) -> int:
    return sum(p["endOffset"] for p in _lag(release).get("partitions", []))


def _publish_orders(release: Operated, path: Path, orders: int, seed: int) -> int:
    generate_orders(path, orders, seed)
    release.publish_file(path)
    return len(path.read_text().splitlines())


def test_old_records_scale_out_by_target_lag_seconds_though_their_offset_lag_is_small(
    release: Operated, tmp_path: Path
) -> None:
    # Nothing consumes while the operator leaves the replicas alone at zero: the records age.
    _autoscaling(release, enabled=False, targetLagSeconds=10, lagPerReplica=1000)
    release.kubectl("scale", "deployment", DEPLOYMENT, "--replicas=0")
    wait_for("no projection pod", lambda: not release.pod_uids("projection"), timeout=120)
    records = _publish_orders(release, tmp_path / "old.events.jsonl", 20, 31)
    assert records < 1000  # the offset rule asks for ceil(records / 1000) = 1 replica

    def aged() -> bool:
        return bool(_lag(release).get("seconds", 0) >= 30)

    wait_for("records 3x older than targetLagSeconds", aged, timeout=120, every=2)
    assert _status(release)["lag"]["total"] == records
    started, seen = time.monotonic(), []
    _autoscaling(release, enabled=True)

    def scaled_out() -> bool:
        seen.append(release.replicas())
        return seen[-1] == PARTITIONS

    # 30 s old against 10 s, no drain rate seen yet: 3+ replicas, capped at the 3 partitions
    # with lag.
    wait_for("scaled out on the records' age", scaled_out, timeout=60, every=1)
    print(f"old records -> {PARTITIONS} replicas: {time.monotonic() - started:.1f}s")
    scaled = [e["message"] for e in _events(release, "Scaled")]
    assert any("targetLagSeconds 10" in m and f"to {PARTITIONS}:" in m for m in scaled), scaled

    def drained() -> bool:
        seen.append(release.replicas())
        return _lag(release).get("total") == 0 and _lag(release).get("seconds") == 0

    wait_for("the old records drained by the pods", drained, timeout=180, every=2)
    wait_for("back to one replica", lambda: release.replicas() == 1, timeout=120, every=2)
    assert max(seen) == PARTITIONS


class TableLock:
    """A PostgreSQL session holding every read-model version's consumer_offsets table: the
    projection's next commit waits on it, so its offsets stop (a stuck consumer that keeps
    its place in the group)."""

    MARK = "pg_sleep(600)"

    def __init__(self, release: Operated) -> None:
        self.release = release
        tables = release.psql(
            "SELECT string_agg(quote_ident(schemaname) || '.consumer_offsets', ', ') "
            "FROM pg_tables WHERE tablename = 'consumer_offsets'"
        )
        assert tables, "no consumer_offsets table"
        sql = f"BEGIN; LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE; SELECT {self.MARK};"
        script = f'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "{sql}"'
        kubectl = [release.kubectl_bin, "--context", CONTEXT, "-n", release.namespace]
        self.session = subprocess.Popen(
            [*kubectl, "exec", "deploy/postgres", "--", "sh", "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        held = (
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'consumer_offsets' AND l.mode = 'AccessExclusiveLock' "
            "AND l.granted"
        )
        wait_for("the lock held", lambda: release.psql(held) != "0", timeout=60)

    def release_it(self) -> None:
        self.release.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE query LIKE '%{self.MARK}%' AND pid <> pg_backend_pid()"
        )
        self.session.wait(timeout=60)


def test_a_projection_that_cannot_commit_is_listed_stalled_told_once_and_cleared(
    release: Operated, tmp_path: Path
) -> None:
    # One replica: stalled lag asks for none, and no rebalance may happen while the lock is
    # held (an assignment reads the offsets table too: the member would block in it, be
    # dropped from the group, and its next Kafka commit fail).
    _autoscaling(release, maxReplicas=1, targetLagSeconds=None)
    wait_for("one replica", lambda: release.replicas() == 1, timeout=120, every=2)
    wait_for("one projection pod left", lambda: _pods(release) == 1, timeout=120, every=2)
    # Records consumed to the end on every partition: the last pod holds them all.
    ends = _ends(release)
    _publish_orders(release, tmp_path / "before.events.jsonl", 10, 33)

    def caught_up() -> bool:
        return _ends(release) > ends and _lag(release).get("total") == 0

    wait_for("the last pod consuming every partition", caught_up, timeout=120, every=2)
    before = _told(release, "Stalled")
    lock = TableLock(release)
    try:
        _publish_orders(release, tmp_path / "stuck.events.jsonl", 20, 32)

        def stalled() -> bool:
            return _condition(release, "Stalled").get("status") == "True"

        wait_for("a Stalled condition", stalled, timeout=90, every=2)
        message = _condition(release, "Stalled")["message"]
        assert "1 live member(s)" in message, message
        listed = release.kubectl("get", "projections").stdout.splitlines()
        header, row = listed[0].split(), listed[1].split()
        assert header[:5] == ["NAME", "LAG", "LAG", "SECONDS", "STALLED"], listed
        assert (row[0], row[3]) == (PROJECTION, "True"), listed
        wait_for("a Stalled Event", lambda: _told(release, "Stalled") > before, timeout=30)
        events = _events(release, "Stalled")
        assert {e["type"] for e in events} == {"Warning"}
        assert any("partition" in e["message"] for e in events)
    finally:
        lock.release_it()

    def cleared() -> bool:
        return _condition(release, "Stalled").get("status") == "False"

    wait_for("the Stalled condition cleared", cleared, timeout=90, every=2)
    wait_for("drained", lambda: _lag(release).get("total") == 0, timeout=120, every=2)
    assert _lag(release)["stalled"] == 0
    listed = release.kubectl("get", "projections").stdout.splitlines()
    assert listed[1].split()[3] == "False", listed
    assert _told(release, "Stalled") == before + 1  # told once, not every poll
