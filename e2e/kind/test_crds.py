"""The CRDs against a real API server of their own (never the shared kind cluster): schemas,
CEL rules, status, printer columns."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from readside_testkit.kind.tools import apply_crds, run

pytestmark = pytest.mark.kind

NAMESPACE = "readside-crds"
PROJECTION = {
    "apiVersion": "readside.io/v1alpha1",
    "kind": "Projection",
    "metadata": {"name": "orders", "namespace": NAMESPACE},
    "spec": {
        "topic": "order-events",
        "consumerGroup": "projection-service",
        "bootstrapServers": "kafka:9092",
        "deployment": "readside-projection",
        "autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 6},
    },
}
REPLAY = {
    "apiVersion": "readside.io/v1alpha1",
    "kind": "ProjectionReplay",
    "metadata": {"name": "rebuild", "namespace": NAMESPACE},
    "spec": {
        "projection": "orders",
        "from": {"timestamp": "2024-03-01T10:00:00Z"},
        "strategy": "BlueGreen",
    },
}


@pytest.fixture(scope="module")
def crd_api(private_api_server: list[str]) -> Iterator[list[str]]:
    # Never the kind cluster's: applying this branch's CRDs there would replace the version
    # other users of the cluster installed (and deleting them would delete their resources).
    api_server = private_api_server
    apply_crds(api_server, established=True)
    run([*api_server, "create", "namespace", NAMESPACE], check=False)
    yield api_server
    run(
        [*api_server, "-n", NAMESPACE, "delete", "projectionreplays,projections", "--all"],
        check=False,
    )


def create(kubectl: list[str], obj: dict, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([*kubectl, "create", "-f", "-"], input_text=yaml.safe_dump(obj), check=check)


def patch_status(
    kubectl: list[str], kind: str, name: str, status: dict, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """A merge patch of the status subresource, as the operator writes it."""
    body = json.dumps({"status": status})
    args = ["patch", kind, name, "--subresource", "status", "--type", "merge", "-p", body]
    return run([*kubectl, "-n", NAMESPACE, *args], check=check)


def with_spec(obj: dict, name: str, **spec: object) -> dict:
    return {**obj, "metadata": {**obj["metadata"], "name": name}, "spec": {**obj["spec"], **spec}}


def test_valid_resources_are_accepted_with_defaults(crd_api: list[str]) -> None:
    kubectl = crd_api
    create(kubectl, PROJECTION)
    create(kubectl, REPLAY)
    got = yaml.safe_load(
        run([*kubectl, "-n", NAMESPACE, "get", "projection", "orders", "-o", "yaml"]).stdout
    )
    assert got["spec"]["autoscaling"]["lagPerReplica"] == 1000
    assert got["spec"]["autoscaling"]["minReplicas"] == 0
    assert got["spec"]["autoscaling"]["stalledAfterPolls"] == 6
    assert got["spec"]["autoscaling"]["scaleDownSelectPolicy"] == "Max"
    assert "targetLagSeconds" not in got["spec"]["autoscaling"]  # no time rule unless asked


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        (
            with_spec(REPLAY, "two-starts", **{"from": {"earliest": True, "offsets": {"0": 5}}}),
            "set exactly one of earliest",
        ),
        (with_spec(REPLAY, "no-start", **{"from": {}}), "set exactly one of earliest"),
        (with_spec(REPLAY, "sideways", strategy="Sideways"), "Unsupported value"),
        (with_spec(REPLAY, "bad-time", **{"from": {"timestamp": "yesterday"}}), "timestamp"),
        (
            with_spec(PROJECTION, "min-over-max", autoscaling={"minReplicas": 5, "maxReplicas": 2}),
            "minReplicas must not exceed",
        ),
        (with_spec(PROJECTION, "no-port", bootstrapServers="kafka"), "bootstrapServers"),
        (
            with_spec(
                PROJECTION,
                "over-percent",
                autoscaling={
                    "scaleDownPolicies": [{"type": "Percent", "value": 150, "periodSeconds": 60}]
                },
            ),
            "value must be at most 100",
        ),
        (
            with_spec(
                PROJECTION,
                "pods-policy",
                autoscaling={
                    "scaleDownPolicies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]
                },
            ),
            "Unsupported value",
        ),
        (
            with_spec(PROJECTION, "no-target", autoscaling={"targetLagSeconds": 0}),
            "targetLagSeconds",
        ),
    ],
)
def test_bad_resources_are_rejected_saying_why(crd_api: list[str], obj: dict, says: str) -> None:
    kubectl = crd_api
    done = create(kubectl, obj, check=False)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr


def test_replay_spec_is_immutable(crd_api: list[str]) -> None:
    kubectl = crd_api
    done = run(
        [
            *kubectl,
            "-n",
            NAMESPACE,
            "patch",
            "projectionreplay",
            "rebuild",
            "--type",
            "merge",
            "-p",
            '{"spec":{"strategy":"InPlace"}}',
        ],
        check=False,
    )
    assert done.returncode != 0
    assert "immutable" in done.stderr


def test_status_subresource_feeds_the_printer_columns(crd_api: list[str]) -> None:
    kubectl = crd_api
    progress = {"phase": "Replaying", "progress": {"eventsReplayed": 120, "percent": 60}}
    patch_status(kubectl, "projectionreplay", "rebuild", progress)
    lag = {
        "lag": {"total": 1234, "seconds": 42.5},
        "replicas": 2,
        "desiredReplicas": 3,
        "conditions": [{"type": "Stalled", "status": "True"}],
    }
    patch_status(kubectl, "projection", "orders", lag)
    replays = run([*kubectl, "-n", NAMESPACE, "get", "replay"]).stdout.split("\n")
    assert replays[0].split() == ["NAME", "PROJECTION", "STRATEGY", "PHASE", "PROGRESS", "AGE"]
    assert replays[1].split()[:5] == ["rebuild", "orders", "BlueGreen", "Replaying", "60"]
    projections = run([*kubectl, "-n", NAMESPACE, "get", "proj"]).stdout.split("\n")
    header = ["NAME", "LAG", "LAG", "SECONDS", "STALLED", "REPLICAS", "DESIRED", "AGE"]
    assert projections[0].split() == header
    assert projections[1].split()[:6] == ["orders", "1234", "42.5", "True", "2", "3"]
    bad = patch_status(kubectl, "projectionreplay", "rebuild", {"phase": "Exploded"}, check=False)
    assert bad.returncode != 0
