"""One autoscaling round's plan: when it scales, when it stands aside, which conditions say so."""

from __future__ import annotations

from typing import Any

import pytest

from readside_kafka import GroupLag, PartitionLag
from readside_operator.autoscale_plan import Plan, Seen, plan_round, policy_from
from readside_operator.scaling import ScalingHistory

pytestmark = pytest.mark.unit


def projection(annotations: dict[str, str] | None = None, **autoscaling: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "orders", "namespace": "shop", "annotations": annotations or {}},
        "spec": {
            "topic": "order-events",
            "deployment": "readside-projection",
            "autoscaling": {"lagPerReplica": 100, "maxReplicas": 8, **autoscaling},
        },
    }


def lag(*lags: int) -> GroupLag:
    rows = tuple(PartitionLag(p, 0, n, n) for p, n in enumerate(lags))
    return GroupLag("order-events", "projection-service", rows)


def kinds(plan: Plan) -> dict[str, tuple[bool, str]]:
    return {c.kind: (c.ok, c.reason) for c in plan.conditions}


def test_the_lag_decides_and_every_condition_is_true() -> None:
    plan = plan_round(projection(), Seen(1, lag(300, 300, 0, 0)), ScalingHistory(), 0.0)
    assert plan.desired == 4  # ceil(600 / 100) capped at 4 partitions
    assert kinds(plan) == {
        "KafkaReachable": (True, "LagRead"),
        "Ready": (True, "LagRead"),
        "Scaling": (True, "Active"),
    }


def test_no_deployment_or_no_lag_means_no_figure_at_all() -> None:
    missing = plan_round(projection(), Seen(None), ScalingHistory(), 0.0)
    assert (missing.desired, kinds(missing)) == (None, {"Ready": (False, "DeploymentNotFound")})
    blind = plan_round(projection(), Seen(3, lag_error="down"), ScalingHistory(), 0.0)
    assert blind.desired is None
    assert kinds(blind) == {
        "KafkaReachable": (False, "LagUnavailable"),
        "Ready": (False, "LagUnavailable"),
    }
    assert "keeping 3 replicas" in blind.conditions[0].message


def test_a_paused_disabled_or_topicless_projection_keeps_its_replicas() -> None:
    history = ScalingHistory([(0.0, 5)])
    paused = projection({"readside.io/autoscaling-paused-by": "rebuild"})
    plan = plan_round(paused, Seen(2, lag(900)), history, 1.0)
    assert plan.desired == 2
    assert kinds(plan)["Scaling"] == (False, "ReplayRunning")
    assert history.recommendations == []  # the window starts afresh after the replay
    off = plan_round(projection(enabled=False), Seen(2, lag(900)), ScalingHistory(), 1.0)
    assert (off.desired, kinds(off)["Scaling"]) == (2, (False, "AutoscalingDisabled"))
    none = plan_round(projection(), Seen(2, lag()), ScalingHistory(), 1.0)
    assert (none.desired, kinds(none)["Ready"]) == (2, (False, "TopicNotFound"))


def test_after_a_start_a_scale_down_still_waits_for_the_window() -> None:
    history = ScalingHistory()
    plan = plan_round(projection(), Seen(4, lag(0, 0, 0, 0)), history, 10.0)
    assert plan.desired == 4
    assert history.recommendations[0] == (10.0, 4)


def test_the_policy_defaults_are_the_crds() -> None:
    policy = policy_from({})
    assert (policy.min_replicas, policy.max_replicas, policy.lag_per_replica) == (1, 10, 1000)
    assert policy.activation_lag == 1
    assert policy.scale_down_stabilization_seconds == 300
