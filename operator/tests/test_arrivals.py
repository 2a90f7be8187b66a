"""The scale-down floor for what keeps arriving, and partitions receiving records counting
toward the cap."""

from __future__ import annotations

import pytest

from readside_kafka import GroupLag, PartitionLag
from readside_operator.arrivals import keep_up_floor, rise_within, trend
from readside_operator.autoscale_plan import Seen, plan_round
from readside_operator.drain import RateMemory, observe_rates
from readside_operator.rate_limit import ScaleDownPolicy
from readside_operator.scaling import Demand, ScalingHistory, ScalingPolicy, decide

pytestmark = pytest.mark.unit

POLICY = ScalingPolicy(max_replicas=6, lag_per_replica=2000, scale_down_stabilization_seconds=60)


def test_the_trend_is_the_least_squares_slope_over_the_window() -> None:
    assert trend([], 60.0, 0.0) == 0.0
    assert trend([(0.0, 100.0)], 60.0, 0.0) == 0.0
    # the drop at 0 is outside a 60 s window at 65; what is inside rises by 25/s each second
    ramp = [(0.0, 2900.0), *((float(t), 25.0 * (t - 5)) for t in range(5, 70, 5))]
    assert trend(ramp, 60.0, 65.0) == pytest.approx(25.0)
    assert trend(ramp, 70.0, 65.0) < 25.0  # with the drop inside, less
    assert trend([(0.0, 500.0), (5.0, 400.0)], 60.0, 5.0) == pytest.approx(-20.0)


def test_arrivals_rise_when_the_trend_adds_over_a_tenth_within_a_window() -> None:
    ramp = [(float(t), 25.0 * t) for t in range(5, 65, 5)]  # to 1,500/s, +25/s each second
    assert rise_within(ramp, 60.0, 60.0) == pytest.approx(1500.0)
    slow = [(float(t), 1000.0 + t) for t in range(0, 60, 5)]  # +60/s in 60 s: 6 %
    assert rise_within(slow, 60.0, 55.0) == 0.0
    assert rise_within([(0.0, 100.0), (5.0, 50.0)], 60.0, 5.0) == 0.0  # falling
    assert rise_within([(0.0, 0.0), (5.0, 0.0)], 60.0, 5.0) == 0.0
    assert rise_within([], 60.0, 0.0) == 0.0
    # +-20 % scatter on every interval of a ramp still reads as a rise over the window
    scattered = [(t, r * (1.2 if i % 4 < 2 else 0.8)) for i, (t, r) in enumerate(ramp)]
    assert rise_within(scattered[-4:], 60.0, 60.0) == 0.0  # a 15 s trend: the scatter
    assert rise_within(scattered, 60.0, 60.0) > 1000.0


def test_while_arrivals_rise_nothing_is_removed_even_without_a_drain_rate() -> None:
    ramp = [(float(t), 25.0 * t) for t in range(5, 65, 5)]
    floor, why = keep_up_floor(RateMemory(arrivals=ramp), 60.0, 60.0, 5)
    assert floor == 5
    assert why == (
        "arrivals rising (1500/s, +1500/s within 60s at the window's trend): no scale-down"
    )


def test_otherwise_the_floor_keeps_up_with_the_windows_highest_rate() -> None:
    after_drop = [(0.0, 2900.0), (5.0, 60.0), (10.0, 50.0)]
    memory = RateMemory(per_replica=600.0, arrivals=after_drop)
    floor, why = keep_up_floor(memory, 60.0, 10.0, 6)
    assert floor == 5  # 2,900 / 600
    assert why == "5 replicas kept for the 2900/s that arrived within 60s at 600/s per replica"
    assert keep_up_floor(memory, 60.0, 60.0, 6)[0] == 1  # the 2,900 left the window
    assert keep_up_floor(memory, 60.0, 75.0, 6) == (0, "")  # nothing within it
    assert keep_up_floor(RateMemory(arrivals=after_drop), 60.0, 10.0, 6) == (0, "")  # no rate


def test_a_scale_down_stops_at_the_replicas_that_keep_up_and_goes_on_once_arrivals_stop() -> None:
    history = ScalingHistory(rates=RateMemory(per_replica=600.0))
    idle = Demand(0, 0, 6)
    history.rates.arrivals = [(0.0, 1800.0)]
    history.recommendations = [(0.0, 1)]
    held = decide(idle, 5, POLICY, history, 30.0)
    assert held.desired == 3  # the offset rule asks for 1, 1,800/s needs 3
    assert "3 replicas kept for the 1800/s that arrived within 60s" in held.reason
    waiting = decide(idle, 3, POLICY, history, 40.0)
    assert (waiting.desired, waiting.reason.endswith("at 600/s per replica")) == (3, True)
    history.rates.arrivals.append((65.0, 0.0))  # nothing since; the 1,800/s left the window
    assert decide(idle, 3, POLICY, history, 65.0).desired == 1


def test_the_rate_limit_still_applies_below_the_floor() -> None:
    limited = ScalingPolicy(
        max_replicas=6,
        lag_per_replica=2000,
        scale_down_stabilization_seconds=60,
        scale_down_policies=(ScaleDownPolicy("Replicas", 1, 60),),
    )
    history = ScalingHistory(rates=RateMemory(per_replica=600.0, arrivals=[(0.0, 600.0)]))
    history.recommendations = [(0.0, 1)]
    assert decide(Demand(0, 0, 6), 5, limited, history, 30.0).desired == 4


def test_partitions_receiving_records_count_toward_the_cap() -> None:
    memory = RateMemory()

    def group(committed: int, end: int) -> GroupLag:
        rows = tuple(PartitionLag(p, committed, end, end - committed) for p in range(4))
        return GroupLag("order-events", "projection-service", rows)

    observe_rates(memory, group(0, 0), 4, 0.0, frozenset())
    observe_rates(memory, group(1000, 1000), 4, 5.0, frozenset())  # kept up: no lag at the poll
    assert memory.receiving == frozenset(range(4))
    assert memory.arrivals == [(5.0, 800.0)]
    spec = {
        "metadata": {"name": "orders", "namespace": "shop"},
        "spec": {
            "topic": "order-events",
            "deployment": "readside-projection",
            "autoscaling": {"lagPerReplica": 100, "maxReplicas": 8, "targetLagSeconds": 10},
        },
    }
    history = ScalingHistory(rates=memory)
    memory.per_replica = 100.0  # 800/s arriving at 100/s per replica: 8, capped at 4
    # one replica that keeps up leaves no lag at the poll; without the records arriving the
    # cap would keep it at one
    plan = plan_round(spec, Seen(1, group(2000, 2000), members=1), history, 10.0)
    assert plan.desired == 4
    assert "capped at 4 partitions with lag or new records" in plan.reason
