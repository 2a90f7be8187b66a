"""The replica decision: ceil(lag / lagPerReplica), clamps, partition caps, stabilization, the
time rule, the scale-down rate limit."""

from __future__ import annotations

import pytest

from readside_operator.rate_limit import ScaleDownPolicy, scale_down_floor
from readside_operator.scaling import (
    Decision,
    Demand,
    ScalingHistory,
    ScalingPolicy,
    decide,
    recommend,
)

pytestmark = pytest.mark.unit


def spread(lag: int, partitions: int) -> Demand:
    """`lag` over every partition (all of them lagging when there is any)."""
    return Demand(lag, min(lag, partitions), partitions)


POLICY = ScalingPolicy(
    min_replicas=1, max_replicas=8, lag_per_replica=1000, scale_down_stabilization_seconds=60
)


@pytest.mark.parametrize(
    ("lag", "partitions", "expected"),
    [
        (0, 4, 1),  # never below minReplicas
        (1, 4, 1),
        (1000, 4, 1),
        (1001, 4, 2),
        (3500, 4, 4),
        (50_000, 4, 4),  # capped at the partition count
        (50_000, 12, 8),  # capped at maxReplicas
    ],
)
def test_recommendation_is_ceil_of_lag_over_lag_per_replica_within_bounds(
    lag: int, partitions: int, expected: int
) -> None:
    assert recommend(spread(lag, partitions), 0, POLICY)[0] == expected


def test_scale_to_zero_below_activation_and_back_to_one_when_events_arrive() -> None:
    policy = ScalingPolicy(min_replicas=0, max_replicas=4, lag_per_replica=100, activation_lag=5)
    assert recommend(spread(0, 4), 0, policy)[0] == 0
    assert recommend(spread(5, 4), 0, policy)[0] == 0
    assert recommend(spread(6, 4), 0, policy)[0] == 1
    assert recommend(spread(250, 4), 0, policy)[0] == 3


def test_scale_up_is_immediate() -> None:
    history = ScalingHistory()
    assert decide(spread(500, 4), 1, POLICY, history, now=0).desired == 1
    assert decide(spread(3500, 4), 1, POLICY, history, now=1).desired == 4


def test_scale_down_waits_until_the_lower_figure_held_for_the_window() -> None:
    history = ScalingHistory()
    decide(spread(3500, 4), 1, POLICY, history, now=0)
    steps = [decide(spread(0, 4), 4, POLICY, history, now=t) for t in (10, 30, 59)]
    assert [d.desired for d in steps] == [4, 4, 4]
    assert all(d.recommended == 1 for d in steps)
    assert decide(spread(0, 4), 4, POLICY, history, now=61).desired == 1


def test_a_spike_inside_the_window_restarts_the_wait() -> None:
    history = ScalingHistory()
    decide(spread(3500, 4), 1, POLICY, history, now=0)
    decide(spread(0, 4), 4, POLICY, history, now=50)
    decide(spread(2500, 4), 4, POLICY, history, now=55)  # a burst: recommendation 3
    assert decide(spread(0, 4), 4, POLICY, history, now=70).desired == 3  # the 3 still held
    assert decide(spread(0, 4), 3, POLICY, history, now=116).desired == 1


def test_no_flapping_under_a_sawtooth_load() -> None:
    history = ScalingHistory()
    current, changes = 1, 0
    for second in range(0, 600, 5):
        lag = 3500 if (second // 30) % 2 == 0 else 0  # 30 s bursts, 30 s idle
        decision: Decision = decide(spread(lag, 4), current, POLICY, history, now=second)
        changes += decision.desired != current
        current = decision.desired
    assert changes == 1  # up once, and held through the sawtooth


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_replicas": -1}, "minReplicas"),
        ({"min_replicas": 3, "max_replicas": 2}, "maxReplicas"),
        ({"lag_per_replica": 0}, "lagPerReplica"),
        ({"activation_lag": -5}, "activationLag"),
        ({"target_lag_seconds": 0}, "targetLagSeconds"),
        ({"scale_down_select": "Fastest"}, "scaleDownSelectPolicy"),
        ({"stalled_after_polls": 0}, "stalledAfterPolls"),
    ],
)
def test_bad_policies_are_rejected_with_the_field_named(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ScalingPolicy(**kwargs)  # type: ignore[arg-type]


def test_only_partitions_with_lag_count_toward_the_cap() -> None:
    # 9,000 records ask for 8 replicas; 2 of the 12 partitions hold all of it.
    assert recommend(Demand(9000, 2, 12), 1, POLICY)[0] == 2
    assert "capped at 2 partitions with lag" in recommend(Demand(9000, 2, 12), 1, POLICY)[1]
    # minReplicas still holds when fewer partitions lag than it asks for.
    busy = ScalingPolicy(min_replicas=3, max_replicas=8, lag_per_replica=1000)
    assert recommend(Demand(9000, 1, 12), 1, busy)[0] == 3
    assert recommend(Demand(0, 0, 12), 3, busy)[0] == 3


def test_stalled_lag_keeps_a_sleeping_projection_awake_but_asks_for_no_more() -> None:
    policy = ScalingPolicy(min_replicas=0, max_replicas=8, lag_per_replica=100, activation_lag=5)
    # 5,000 records stuck on stalled partitions, nothing elsewhere: one replica, not eight.
    assert recommend(Demand(0, 0, 8, stalled_lag=5000), 1, policy)[0] == 1
    assert recommend(Demand(0, 0, 8, stalled_lag=3), 1, policy)[0] == 0


def test_scale_down_policies_limit_each_period_after_the_window() -> None:
    one_per_30s = ScalingPolicy(
        min_replicas=1,
        max_replicas=8,
        lag_per_replica=1000,
        scale_down_stabilization_seconds=10,
        scale_down_policies=(ScaleDownPolicy("Replicas", 1, 30),),
    )
    history = ScalingHistory()
    decide(spread(8000, 8), 1, one_per_30s, history, now=0)  # up to 8 at once
    current, timeline = 8, []
    for second in range(5, 200, 5):
        current = decide(spread(0, 8), current, one_per_30s, history, now=second).desired
        timeline.append((second, current))
    downs = [t for (t, r), (_, before) in zip(timeline[1:], timeline, strict=False) if r < before]
    assert timeline[0] == (5, 8)  # the window first
    assert downs == [10, 40, 70, 100, 130, 160, 190]  # then one replica per 30 s
    assert [r for t, r in timeline if t in downs] == [7, 6, 5, 4, 3, 2, 1]


def test_select_max_follows_the_more_generous_policy_and_min_the_stricter() -> None:
    both = (ScaleDownPolicy("Replicas", 1, 60), ScaleDownPolicy("Percent", 50, 60))
    assert scale_down_floor(both, "Max", 10, [], 0) == 5  # 50 % of 10 beats 1 replica
    assert scale_down_floor(both, "Min", 10, [], 0) == 9
    assert scale_down_floor(both, "Disabled", 10, [], 0) == 10
    assert scale_down_floor((), "Max", 10, [], 0) == 0  # no policy: no limit
    # Replicas removed inside the period count: 10 -> 5 already, so 50 % of 10 is used up.
    assert scale_down_floor(both[1:], "Max", 5, [(0.0, 5)], 30) == 5
    assert scale_down_floor(both[1:], "Max", 5, [(0.0, 5)], 61) == 3  # a new period


def test_the_percent_policy_rounds_towards_keeping_replicas() -> None:
    third = ScaleDownPolicy("Percent", 30, 60)
    assert scale_down_floor((third,), "Max", 5, [], 0) == 4  # ceil(3.5)
    with pytest.raises(ValueError, match="type must be one of"):
        ScaleDownPolicy("Pods", 1, 60)


def test_a_sawtooth_reversal_is_removed_by_the_rate_limit() -> None:
    """The bench's sawtooth before this change: after the window the operator dropped 5 -> 1
    in three polls just as the next tooth rose, then went back up (a reversal)."""
    lags = [5000] * 6 + [0] * 14 + [4000] * 4
    plain = ScalingPolicy(max_replicas=6, lag_per_replica=1000, scale_down_stabilization_seconds=60)
    limited = ScalingPolicy(
        max_replicas=6,
        lag_per_replica=1000,
        scale_down_stabilization_seconds=60,
        scale_down_policies=(ScaleDownPolicy("Replicas", 1, 60),),
    )
    assert _changes(plain, lags) == [5, 1, 4]
    assert _changes(limited, lags) == [5, 4]


def _changes(policy: ScalingPolicy, lags: list[int]) -> list[int]:
    history, current, seen = ScalingHistory(), 1, []
    for n, lag in enumerate(lags):
        desired = decide(spread(lag, 6), current, policy, history, now=5.0 * n).desired
        if desired != current:
            seen.append(desired)
        current = desired
    return seen
