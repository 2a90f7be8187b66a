"""The Jobs, the shadow Deployment and the conditions the operator writes (pure builders)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from readside_operator.names import child_name, schema_name
from readside_operator.resources import projection_job, set_condition, shadow_deployment

pytestmark = pytest.mark.unit

REPLAY = {
    "apiVersion": "readside.io/v1alpha1",
    "kind": "ProjectionReplay",
    "metadata": {"name": "rebuild", "namespace": "shop", "uid": "u-1"},
}
SELECTOR = {"app.kubernetes.io/name": "readside", "app.kubernetes.io/component": "projection"}


def deployment() -> dict[str, Any]:
    return {
        "metadata": {"name": "readside-projection", "namespace": "shop", "labels": dict(SELECTOR)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(SELECTOR)},
            "template": {
                "metadata": {"labels": dict(SELECTOR)},
                "spec": {
                    "serviceAccountName": "readside",
                    "securityContext": {"runAsNonRoot": True},
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "containers": [
                        {
                            "name": "projection",
                            "image": "readside-projection:1.2.3",
                            "command": ["python", "/app/bin/supervise.py", "readside-projection"],
                            "env": [
                                {"name": "CONSUMER_GROUP", "value": "projection-service"},
                                {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {}}},
                            ],
                            "envFrom": [{"configMapRef": {"name": "readside"}}],
                            "securityContext": {"readOnlyRootFilesystem": True},
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"memory": "768Mi"},
                            },
                        }
                    ],
                },
            },
        },
    }


def test_a_reset_job_runs_the_projection_image_with_its_environment_and_posture() -> None:
    job = projection_job(
        REPLAY,
        deployment(),
        "rebuild-reset",
        ["reset", "--earliest"],
        {"CONSUMER_GROUP": "g2", "READ_MODEL_SCHEMA": "rm_rebuild"},
        ["migrate"],
    )
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["readside-projection"]  # not the dev supervisor
    assert container["args"] == ["reset", "--earliest"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CONSUMER_GROUP"]["value"] == "g2"  # overridden, not duplicated
    assert [e["name"] for e in container["env"]].count("CONSUMER_GROUP") == 1
    assert "valueFrom" in env["DATABASE_URL"]  # Secret references pass through
    assert container["securityContext"] == {"readOnlyRootFilesystem": True}
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "64Mi"},
        "limits": {"memory": "768Mi"},
    }
    assert pod["initContainers"][0]["args"] == ["migrate"]
    assert pod["serviceAccountName"] == "readside"
    assert pod["restartPolicy"] == "Never"
    assert job["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_the_shadow_is_selected_by_nothing_that_selects_the_live_projection() -> None:
    shadow = shadow_deployment(
        REPLAY, deployment(), "readside-projection-rebuild", {"READ_MODEL_SCHEMA": "rm_x"}, 3
    )
    labels = shadow["spec"]["template"]["metadata"]["labels"]
    # The live Deployment, Service and PDB select component=projection: the shadow differs.
    assert not all(labels.get(k) == v for k, v in SELECTOR.items())
    assert shadow["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert shadow["spec"]["replicas"] == 3
    env = shadow["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "READ_MODEL_SCHEMA", "value": "rm_x"} in env
    assert deployment()["spec"]["template"]["metadata"]["labels"] == SELECTOR  # input untouched


def test_names_are_valid_kubernetes_and_postgresql_names() -> None:
    # Cut names carry a hash (they used to be cut only: "a" * 63, "re-build-reset").
    cut = child_name("A" * 70, "reset")
    assert len(cut) == 63
    assert cut.startswith("a" * 52 + "-")
    assert child_name("re.build", "reset").startswith("re-build-reset-")
    assert child_name("re-build", "reset") == "re-build-reset"
    assert schema_name("Rebuild-2026-11-25") == "rm_rebuild_2026_11_25"
    assert len(schema_name("x" * 100)) == 63


def test_a_condition_keeps_its_transition_time_until_its_status_changes() -> None:
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    first = set_condition(None, "Ready", True, "LagRead", "ok", 3, t1)
    same = set_condition(first, "Ready", True, "LagRead", "still ok", 4, t2)
    flipped = set_condition(same, "Ready", False, "LagUnavailable", "down", 4, t2)
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["message"] == "still ok"
    assert same[0]["observedGeneration"] == 4
    assert flipped[0]["lastTransitionTime"] == "2026-01-02T00:00:00Z"
    assert len(flipped) == 1
