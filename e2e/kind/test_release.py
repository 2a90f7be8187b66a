"""Readside as a real Helm release in the kind cluster, end to end.

The release `readside` goes into its own namespace (READSIDE_E2E_NAMESPACE, default
readside-e2e) beside the dev dependencies of deploy/dev; it is left installed so that
`make e2e` can run `helm test` on it afterwards (`make e2e-clean` removes it). Needs the
app images in the cluster: `make images-app kind-load-app` (make e2e does it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from readside_testkit.kind.port_forward import PortForward, served_exactly
from readside_testkit.kind.release import EXPECTED, SAMPLE, Release, generate_orders
from readside_testkit.kind.tools import wait_for

pytestmark = [pytest.mark.kind, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def release(cluster: str, helm: str, app_images_in_kind: None) -> Release:
    kubectl = cluster
    rel = Release(kubectl, helm)
    rel.deploy_dependencies()
    rel.install()
    return rel


def test_sample_events_published_in_cluster_are_served_as_expected(
    release: Release, api: PortForward
) -> None:
    publisher = release.publish(SAMPLE)
    out, _ = publisher.communicate(timeout=120)
    assert publisher.returncode == 0, out
    wait_for(
        "every sample order served as sample.expected.json says",
        lambda: served_exactly(api, EXPECTED),
        timeout=180,
        every=2,
    )


def test_helm_test_passes(release: Release) -> None:
    done = release.helm("test", "readside", "--logs", "--timeout", "5m", timeout=360)
    assert "Phase:          Succeeded" in done.stdout or "Succeeded" in done.stdout


def test_upgrade_changing_a_value_rolls_pods_without_losing_an_event(
    release: Release, api: PortForward, tmp_path: Path
) -> None:
    events = tmp_path / "upgrade.events.jsonl"
    # The release's namespace outlives a run: orders of an earlier run (same seed, another
    # generator version) would already hold versions. A seed of this run's own (printed on
    # failure) gives orders nobody published before.
    seed = str(int(time.time()))
    per_order = generate_orders(events, 120, seed)
    before = {c: release.pod_uids(c) for c in ("query", "projection")}
    level = json.loads(release.helm("get", "values", "readside", "-o", "json").stdout).get(
        "logLevel", "INFO"
    )
    publisher = release.publish(events, rate=25)  # still publishing while pods roll
    release.install(f"logLevel={'DEBUG' if level != 'DEBUG' else 'INFO'}")
    out, _ = publisher.communicate(timeout=300)
    assert publisher.returncode == 0, out
    for component, uids in before.items():
        assert not release.pod_uids(component) & uids, f"{component} pods did not roll"

    def all_applied() -> bool:
        for order_id, count in per_order.items():
            status, body = api.get(f"/api/v1/orders/{order_id}")
            if status != 200 or body["version"] != count:
                return False
        return True

    wait_for(
        f"all {len(per_order)} orders (seed {seed}) applied with every event",
        all_applied,
        timeout=240,
        every=3,
    )
