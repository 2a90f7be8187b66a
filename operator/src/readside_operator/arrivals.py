"""The replicas a scale-down must leave for what keeps arriving (pure).

A scale-down that the load takes back within the stabilization window is a reversal. The
offset rule sees only the backlog, and a projection that keeps up has almost none: under a
rising load it recommends few replicas just before it needs them all again (the sawtooth of
`make bench-autoscaling` did this once a tooth). So a scale-down never goes below the
replicas that keep up, at the best drain observed per replica (`drain.RateMemory`), with the
highest arrival rate expected before the window ends: the highest seen during the window,
or, while arrivals rise, the latest rate followed along its trend (least squares over the
last TREND_POLLS intervals) to the end of the window, capped at the highest rate seen in the
rate memory (a few polls' trend is not a forecast: it may only bring back a rate already
seen). The floor holds the replicas there, it never adds any; without an observed drain
rate there is none.
"""

from __future__ import annotations

import math

from readside_operator.drain import RateMemory

TREND_POLLS = 4


def trend(arrivals: list[tuple[float, float]]) -> float:
    """Records/s gained per second over the last TREND_POLLS intervals (least squares)."""
    recent = arrivals[-TREND_POLLS:]
    if len(recent) < 2:
        return 0.0
    mean_t = sum(t for t, _ in recent) / len(recent)
    mean_r = sum(r for _, r in recent) / len(recent)
    spread = sum((t - mean_t) ** 2 for t, _ in recent)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (r - mean_r) for t, r in recent) / spread


def expected_arrivals(arrivals: list[tuple[float, float]], window: float, now: float) -> float:
    """The highest arrival rate (records/s) to expect from now to the end of the window."""
    if not arrivals:
        return 0.0
    seen = max((r for t, r in arrivals if now - t < window), default=0.0)
    latest = arrivals[-1][1]
    rising = min(latest + max(trend(arrivals), 0.0) * window, max(r for _, r in arrivals))
    return max(seen, latest, rising)


def keep_up_floor(memory: RateMemory, window: float, now: float) -> tuple[int, str]:
    """The fewest replicas a scale-down may leave now, and why (0: no floor)."""
    if not memory.per_replica:
        return 0, ""
    expected = expected_arrivals(memory.arrivals, window, now)
    floor = math.ceil(expected / memory.per_replica)
    if floor <= 0:
        return 0, ""
    return floor, (
        f"{floor} replicas kept for up to {expected:.0f}/s arriving within {window:.0f}s "
        f"at {memory.per_replica:.0f}/s per replica"
    )
