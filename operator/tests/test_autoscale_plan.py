"""One autoscaling round's plan: when it scales, when it stands aside, which conditions say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    plan = plan_round(projection(), Seen(1, lag(300, 100, 100, 100)), ScalingHistory(), 0.0)
    assert plan.desired == 4  # ceil(600 / 100) capped at 4 partitions
    assert kinds(plan) == {
        "KafkaReachable": (True, "LagRead"),
        "Stalled": (False, "Moving"),
        "Ready": (True, "LagRead"),
        "Scaling": (True, "Active"),
    }
    lopsided = plan_round(projection(), Seen(1, lag(300, 300, 0, 0)), ScalingHistory(), 0.0)
    assert lopsided.desired == 2  # only two partitions have lag


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
    assert "Check spec.bootstrapServers" in blind.conditions[0].message  # what to do
    assert "fix spec.deployment" in missing.conditions[0].message


def test_a_paused_disabled_or_topicless_projection_keeps_its_replicas() -> None:
    history = ScalingHistory([(0.0, 5)])
    paused = projection({"readside.io/autoscaling-paused-by": "rebuild"})
    plan = plan_round(paused, Seen(2, lag(900)), history, 1.0)
    assert plan.desired == 2
    assert kinds(plan)["Scaling"] == (False, "ReplayRunning")
    assert kinds(plan)["Stalled"] == (False, "Moving")  # still watched while paused
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


def test_a_stalled_partition_is_named_told_once_and_asks_for_no_replicas() -> None:
    rows = (PartitionLag(0, 40, 5040, 5000), PartitionLag(1, 90, 190, 100))
    stuck = GroupLag("order-events", "projection-service", (*rows, PartitionLag(2, 7, 7, 0)))
    spec = projection(stalledAfterPolls=2, scaleDownStabilizationSeconds=0)
    history, plans, current = ScalingHistory(), [], 2
    for second in range(4):
        plans.append(plan_round(spec, Seen(current, stuck, members=2), history, float(second)))
        current = plans[-1].desired or current
    # 5100 / 100 capped at the 2 lagging partitions, until both count as stalled
    assert [p.desired for p in plans] == [2, 2, 1, 1]
    assert kinds(plans[0])["Stalled"] == (False, "Moving")
    assert kinds(plans[2])["Stalled"] == (True, "OffsetNotMoving")
    assert "partition 0 at offset 40 (lag 5000, 2 polls)" in plans[2].conditions[1].message
    assert "partition 2" not in plans[2].conditions[1].message  # no lag: not stalled
    assert [len(p.found.new_stalls) for p in plans] == [0, 0, 2, 0]  # told once
    moved = GroupLag("order-events", "projection-service", (PartitionLag(0, 41, 5040, 4999),))
    cleared = plan_round(spec, Seen(1, moved, members=2), history, 4.0)
    assert kinds(cleared)["Stalled"] == (False, "Moving")


def test_target_lag_seconds_scales_out_on_old_records_with_a_small_offset_lag() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    old = now - timedelta(seconds=60)
    rows = tuple(PartitionLag(p, 0, 10, 10, 0, old) for p in range(4))
    seen = GroupLag("order-events", "projection-service", rows)
    spec = projection(targetLagSeconds=20)
    plan = plan_round(spec, Seen(1, seen, at=now), ScalingHistory(), 0.0)
    assert plan.desired == 3  # ceil(1 x 60 / 20); the 40 records alone ask for 1
    assert plan.found.ages == dict.fromkeys(range(4), 60.0)
    plain = plan_round(projection(), Seen(1, seen, at=now), ScalingHistory(), 0.0)
    assert plain.desired == 1


def test_the_scale_down_policies_are_read_from_the_spec() -> None:
    policy = policy_from(
        {
            "autoscaling": {
                "targetLagSeconds": 30,
                "scaleDownPolicies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                "scaleDownSelectPolicy": "Min",
                "stalledAfterPolls": 4,
            }
        }
    )
    assert policy.target_lag_seconds == 30.0
    assert [(p.kind, p.value, p.period_seconds) for p in policy.scale_down_policies] == [
        ("Percent", 50, 60.0)
    ]
    assert (policy.scale_down_select, policy.stalled_after_polls) == ("Min", 4)
    defaults = policy_from({})
    assert (defaults.target_lag_seconds, defaults.scale_down_policies) == (None, ())
    assert (defaults.scale_down_select, defaults.stalled_after_polls) == ("Max", 6)


def test_the_time_rule_uses_the_drain_rate_observed_between_rounds() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    spec = projection(targetLagSeconds=20, lagPerReplica=1000)
    history = ScalingHistory()

    def seen(committed: int, end: int, at: float) -> Seen:
        old = now - timedelta(seconds=100)
        rows = tuple(PartitionLag(p, committed, end, end - committed, 0, old) for p in range(8))
        group = GroupLag("order-events", "projection-service", rows)
        return Seen(1, group, members=1, at=now + timedelta(seconds=at))

    plan_round(spec, seen(0, 100, 0.0), history, 0.0)
    plan = plan_round(spec, seen(12, 105, 10.0), history, 10.0)
    # one member drained 96 records in 10 s (9.6/s); 40 arrived (4/s); 8 x 93 = 744 left:
    # (4 + 744 / 20) / 9.6 = 4.3 -> 5 replicas, where the records alone ask for one
    assert plan.desired == 5
    assert "drain 744 within 20s plus 4/s arriving, at 10/s per replica -> 5" in plan.reason
