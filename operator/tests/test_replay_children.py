"""What a replay creates, built from its status and the admin-command contract (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from readside_operator.replay.children import drop_job, promote_job, reset_job, shadow
from readside_operator.replay.spec import Strategy, parse_spec
from readside_operator.replay.state import ChildNames, ReplayRound, initial_status

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PROJECTION = {
    "metadata": {"name": "orders", "namespace": "shop"},
    "spec": {"topic": "t", "deployment": "live", "consumerGroup": "g"},
}
LIVE = {
    "metadata": {"name": "live", "namespace": "shop", "labels": {"app": "p"}},
    "spec": {
        "selector": {"matchLabels": {"app": "p"}},
        "template": {
            "metadata": {"labels": {"app": "p"}},
            "spec": {"containers": [{"name": "projection", "image": "p:1"}]},
        },
    },
}


def replay_round(strategy: str) -> ReplayRound:
    replay = {
        "apiVersion": "readside.io/v1alpha1",
        "kind": "ProjectionReplay",
        "metadata": {"name": "bg", "namespace": "shop", "uid": "u"},
        "spec": {"projection": "orders", "strategy": strategy},
    }
    spec = parse_spec(replay["spec"])
    status = initial_status(PROJECTION, "bg", spec.strategy, 2, NOW)
    return ReplayRound(replay, spec, PROJECTION, LIVE, cast(Any, None), status)


def env(obj: dict[str, Any], init: bool = False) -> dict[str, str]:
    pod = obj["spec"]["template"]["spec"]
    container = pod["initContainers" if init else "containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def test_a_blue_green_replay_builds_migrates_resets_and_promotes_its_own_version() -> None:
    rnd = replay_round("BlueGreen")
    assert rnd.status["readModel"] == {"previousSchema": "public", "schema": "rm_bg"}
    assert rnd.status["consumerGroup"] == "g-bg"
    job = reset_job(rnd)
    assert job["metadata"]["name"] == "bg-reset"
    assert job["spec"]["template"]["spec"]["initContainers"][0]["args"] == ["migrate"]
    assert env(job) == {"CONSUMER_GROUP": "g-bg", "READ_MODEL_SCHEMA": "rm_bg"}
    promote = promote_job(rnd)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert promote == ["promote", "--schema", "rm_bg", "--consumer-group", "g-bg"]
    assert env(shadow(rnd, 3)) == {"CONSUMER_GROUP": "g-bg", "READ_MODEL_SCHEMA": "rm_bg"}


def test_an_in_place_replay_resets_the_live_version_with_the_live_group() -> None:
    rnd = replay_round("InPlace")
    assert rnd.spec.strategy is Strategy.IN_PLACE
    job = reset_job(rnd)
    assert "initContainers" not in job["spec"]["template"]["spec"]
    assert env(job) == {"CONSUMER_GROUP": "g", "READ_MODEL_SCHEMA": "public"}
    assert rnd.status["replicasBefore"] == 2
    assert rnd.status["startTime"] == "2026-01-01T00:00:00Z"


def test_the_drop_job_names_the_version_it_drops() -> None:
    names = ChildNames.of("bg", "live")
    job = drop_job(replay_round("BlueGreen").replay, LIVE, names, "rm_old")
    assert job["metadata"]["name"] == "bg-drop"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "drop-read-model",
        "--schema",
        "rm_old",
    ]
