"""The replica decision: ceil(lag / lagPerReplica), clamps, partition cap, stabilization."""

from __future__ import annotations

import pytest

from readside_operator.scaling import Decision, ScalingHistory, ScalingPolicy, decide, recommend

pytestmark = pytest.mark.unit

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
    assert recommend(lag, partitions, POLICY)[0] == expected


def test_scale_to_zero_below_activation_and_back_to_one_when_events_arrive() -> None:
    policy = ScalingPolicy(min_replicas=0, max_replicas=4, lag_per_replica=100, activation_lag=5)
    assert recommend(0, 4, policy)[0] == 0
    assert recommend(5, 4, policy)[0] == 0
    assert recommend(6, 4, policy)[0] == 1
    assert recommend(250, 4, policy)[0] == 3


def test_scale_up_is_immediate() -> None:
    history = ScalingHistory()
    assert decide(500, 4, 1, POLICY, history, now=0).desired == 1
    assert decide(3500, 4, 1, POLICY, history, now=1).desired == 4


def test_scale_down_waits_until_the_lower_figure_held_for_the_window() -> None:
    history = ScalingHistory()
    decide(3500, 4, 1, POLICY, history, now=0)
    steps = [decide(0, 4, 4, POLICY, history, now=t) for t in (10, 30, 59)]
    assert [d.desired for d in steps] == [4, 4, 4]
    assert all(d.recommended == 1 for d in steps)
    assert decide(0, 4, 4, POLICY, history, now=61).desired == 1


def test_a_spike_inside_the_window_restarts_the_wait() -> None:
    history = ScalingHistory()
    decide(3500, 4, 1, POLICY, history, now=0)
    decide(0, 4, 4, POLICY, history, now=50)
    decide(2500, 4, 4, POLICY, history, now=55)  # a burst: recommendation 3
    assert decide(0, 4, 4, POLICY, history, now=70).desired == 3  # the 3 still held
    assert decide(0, 4, 3, POLICY, history, now=116).desired == 1


def test_no_flapping_under_a_sawtooth_load() -> None:
    history = ScalingHistory()
    current, changes = 1, 0
    for second in range(0, 600, 5):
        lag = 3500 if (second // 30) % 2 == 0 else 0  # 30 s bursts, 30 s idle
        decision: Decision = decide(lag, 4, current, POLICY, history, now=second)
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
    ],
)
def test_bad_policies_are_rejected_with_the_field_named(
    kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ScalingPolicy(**kwargs)
