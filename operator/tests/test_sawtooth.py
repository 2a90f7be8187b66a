"""The bench's sawtooth as a closed loop in pure code: load rises 0 -> 3,000 records/s over
120 s and drops, each replica drains 600/s, the operator polls every 5 s with a 60 s window
(operator/bench/bench_autoscaling.py does the same against the real parts). A reversal is a
scaling undone within the window."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise

import pytest

from readside_kafka import GroupLag, PartitionLag
from readside_operator.drain import observe_rates
from readside_operator.rate_limit import ScaleDownPolicy
from readside_operator.scaling import Demand, ScalingHistory, ScalingPolicy, decide

pytestmark = pytest.mark.unit

PARTITIONS = 6
ONE_PER_MINUTE = (ScaleDownPolicy("Replicas", 1, 60),)


@dataclass
class Run:
    steps: list[tuple[int, int]]  # (second, replicas added or removed)
    max_lag: int

    def undone(self, window: float = 60) -> list[tuple[int, int]]:
        """Scalings reversed within the window: (second of the first, its size)."""
        return [
            (t1, d1)
            for (t1, d1), (t2, d2) in pairwise(self.steps)
            if d1 * d2 < 0 and t2 - t1 < window
        ]


def sawtooth(
    policy: ScalingPolicy,
    seconds: int = 600,
    teeth: int = 5,
    overestimate: float = 1.0,
    noise: float = 0.0,
) -> Run:
    """`teeth` teeth of 120 s, then no load until `seconds`. What the real bench's 5 s polls
    over its once-a-second produce and commit bursts do to the observed rates: `overestimate`
    multiplies the drain per replica (it saw 708/s for 600), `noise` scatters each interval's
    arrival rate by up to that share (a poll catching one burst more or less: +-20 %)."""
    scatter = random.Random(13)
    history, current, produced, consumed = ScalingHistory(), 1, 0, 0
    run = Run([], 0)
    for t in range(seconds):
        produced += 3000 * (t % 120) // 120 if t < 120 * teeth else 0
        consumed += min(produced - consumed, current * 600)
        lag = produced - consumed
        run.max_lag = max(run.max_lag, lag)
        if t % 5:
            continue
        rows = tuple(
            PartitionLag(p, consumed // PARTITIONS, produced // PARTITIONS, lag // PARTITIONS)
            for p in range(PARTITIONS)
        )
        observe_rates(history.rates, GroupLag("t", "g", rows), current, float(t), frozenset())
        if history.rates.per_replica:
            history.rates.per_replica *= overestimate
        if history.rates.arrivals:
            at, rate = history.rates.arrivals[-1]
            history.rates.arrivals[-1] = (at, rate * (1 + noise * scatter.uniform(-1, 1)))
        # A partition counts toward the cap with lag or with records arriving (all of them).
        active = PARTITIONS if lag or history.rates.receiving else 0
        demand = Demand(lag, active, PARTITIONS)
        desired = decide(demand, current, policy, history, float(t)).desired
        if desired != current:
            run.steps.append((t, desired - current))
        current = desired
    return run


def policy(**kwargs: object) -> ScalingPolicy:
    base = {"max_replicas": 6, "lag_per_replica": 2000, "scale_down_stabilization_seconds": 60}
    return ScalingPolicy(**(base | kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"scale_down_policies": ONE_PER_MINUTE}, {"target_lag_seconds": 10}],
    ids=["window", "window+policy", "time-rule"],
)
@pytest.mark.parametrize("overestimate", [1.0, 1.3])
@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_no_scaling_is_undone_within_the_window(
    kwargs: dict[str, object], overestimate: float, noise: float
) -> None:
    # Before the scale-down floor for arrivals: 4, 3 and 0 (the last at exactly 60 s apart).
    run = sawtooth(policy(**kwargs), overestimate=overestimate, noise=noise)
    assert run.undone() == []
    if overestimate == 1.0:
        assert all(d > 0 for _, d in run.steps)  # up to the peak's need, then held there
        assert sum(d for _, d in run.steps) == 4  # 5 replicas: 3,000/s at 600/s each
    else:
        # 2,900/s over 780/s asks for 4: one replica goes at a drop, while arrivals fall,
        # and comes back near the next peak, well outside the window.
        assert all(t2 - t1 > 100 for (t1, _), (t2, _) in pairwise(run.steps[4:]))


def test_the_replicas_come_down_one_per_minute_once_the_load_is_gone() -> None:
    run = sawtooth(policy(scale_down_policies=ONE_PER_MINUTE), seconds=720, teeth=2)
    downs = [t for t, d in run.steps if d < 0]
    assert len(downs) == 4  # 5 -> 1
    # The last tooth ends at 240: the interval polled at 235 (2,900/s: 5 replicas) is held
    # for the window.
    assert downs[0] >= 235 + 60
    assert all(b - a >= 60 for a, b in pairwise(downs))
    assert run.undone() == []


def test_the_time_rule_keeps_up_with_the_load_instead_of_waiting_for_lag() -> None:
    lag_only = sawtooth(policy(scale_down_policies=ONE_PER_MINUTE))
    timed = sawtooth(policy(scale_down_policies=ONE_PER_MINUTE, target_lag_seconds=10))
    assert timed.max_lag * 5 < lag_only.max_lag
    assert len(timed.steps) <= len(lag_only.steps)
