"""The scale-down floor for what keeps arriving, and partitions receiving records counting
toward the cap."""

from __future__ import annotations

import pytest

from readside_kafka import GroupLag, PartitionLag
from readside_operator.arrivals import expected_arrivals, keep_up_floor, trend
from readside_operator.autoscale_plan import Seen, plan_round
from readside_operator.drain import RateMemory, observe_rates
from readside_operator.rate_limit import ScaleDownPolicy
from readside_operator.scaling import Demand, ScalingHistory, ScalingPolicy, decide

pytestmark = pytest.mark.unit

POLICY = ScalingPolicy(max_replicas=6, lag_per_replica=2000, scale_down_stabilization_seconds=60)


def test_the_trend_is_the_least_squares_slope_of_the_last_four_intervals() -> None:
    assert trend([]) == 0.0
    assert trend([(0.0, 100.0)]) == 0.0
    # an old drop is outside the four intervals; the last four rise by 25/s each second
    rising = [(0.0, 2900.0), (5.0, 0.0), (10.0, 125.0), (15.0, 250.0), (20.0, 375.0)]
    assert trend(rising) == pytest.approx(25.0)
    assert trend([(0.0, 500.0), (5.0, 400.0)]) == pytest.approx(-20.0)


def test_expected_arrivals_hold_the_window_peak_and_follow_a_rise_to_a_rate_seen_before() -> None:
    ramp = [(float(t), 25.0 * t) for t in range(0, 120, 5)]  # 0 -> 2,875/s
    after_drop = [*ramp, (120.0, 2900.0), (125.0, 60.0)]
    # just after the drop the window still holds the peak
    assert expected_arrivals(after_drop, 60.0, 125.0) == 2900.0
    # 60 s into the next rise: 1,500/s rising 25/s per s would reach 3,000/s, capped at the
    # highest rate in the memory
    rise = [*after_drop, *((120.0 + t, 25.0 * t) for t in range(5, 65, 5))]
    assert expected_arrivals(rise, 60.0, 180.0) == 2900.0
    # falling or flat: the window's highest rate
    flat = [(0.0, 100.0), (5.0, 300.0), (10.0, 200.0), (15.0, 100.0)]
    assert expected_arrivals(flat, 60.0, 15.0) == 300.0
    assert expected_arrivals(flat, 8.0, 15.0) == 200.0  # 5.0 is out of an 8 s window
    assert expected_arrivals([], 60.0, 0.0) == 0.0


def test_the_floor_needs_a_drain_rate_and_arrivals() -> None:
    assert keep_up_floor(RateMemory(arrivals=[(0.0, 3000.0)]), 60.0, 0.0) == (0, "")
    assert keep_up_floor(RateMemory(per_replica=600.0, arrivals=[(0.0, 0.0)]), 60.0, 0.0)[0] == 0
    floor, why = keep_up_floor(RateMemory(per_replica=600.0, arrivals=[(0.0, 2900.0)]), 60, 5)
    assert floor == 5
    assert why == "5 replicas kept for up to 2900/s arriving within 60s at 600/s per replica"


def test_a_scale_down_stops_at_the_replicas_that_keep_up_and_goes_on_once_arrivals_stop() -> None:
    history = ScalingHistory(rates=RateMemory(per_replica=600.0))
    idle = Demand(0, 0, 6)
    history.rates.arrivals = [(0.0, 1800.0)]
    history.recommendations = [(0.0, 1)]
    held = decide(idle, 5, POLICY, history, 30.0)
    assert held.desired == 3  # the offset rule asks for 1, 1,800/s needs 3
    assert "3 replicas kept for up to 1800/s arriving" in held.reason
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
