"""The replicas a scale-down must leave for what keeps arriving (pure).

A scale-down that the load takes back within the stabilization window is a reversal. The
offset rule sees only the backlog, and a projection that keeps up has almost none: under a
rising load it recommends few replicas just before it needs them all again (the sawtooth of
`make bench-autoscaling` did this once a tooth). So:

- while arrivals rise (the least-squares trend of the arrival rates seen during the window
  would add more than RISE_SHARE of the latest rate over another window) there is no
  scale-down at all: the replicas running are the ones the rise will need, and no capacity
  estimate is trusted to say how many fewer would do (the best drain seen per replica,
  `drain`, is a high estimate: an interval that happened to include one commit more looks
  faster);
- otherwise a scale-down never goes below the replicas that keep up, at the drain observed
  per replica, with the highest arrival rate of the window (none before a drain rate has
  been observed).

The trend is taken over the whole window, not the last few polls: an interval's rate is
noisy (a poll that catches one producer burst more or less reads +-20 % on the bench), and a
short trend stretched over the window made that noise a rise or a fall at random. Noise can
still make a flat load look rising at some polls: that only postpones a scale-down to a poll
where it does not.
"""

from __future__ import annotations

import math

from readside_operator.drain import RateMemory

RISE_SHARE = 0.1


def within(
    arrivals: list[tuple[float, float]], window: float, now: float
) -> list[tuple[float, float]]:
    """The (clock, records/s) intervals that ended within the last `window` seconds."""
    return [(t, r) for t, r in arrivals if now - t < window]


def trend(arrivals: list[tuple[float, float]], window: float, now: float) -> float:
    """Records/s gained per second over the window's intervals (least squares; 0 with fewer
    than two)."""
    recent = within(arrivals, window, now)
    if len(recent) < 2:
        return 0.0
    mean_t = sum(t for t, _ in recent) / len(recent)
    mean_r = sum(r for _, r in recent) / len(recent)
    spread = sum((t - mean_t) ** 2 for t, _ in recent)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (r - mean_r) for t, r in recent) / spread


def rise_within(arrivals: list[tuple[float, float]], window: float, now: float) -> float:
    """Records/s the window's trend adds over another window when that is more than
    RISE_SHARE of the latest rate, else 0 (not rising)."""
    if not arrivals or arrivals[-1][1] <= 0:
        return 0.0
    rise = trend(arrivals, window, now) * window
    return rise if rise > RISE_SHARE * arrivals[-1][1] else 0.0


def keep_up_floor(memory: RateMemory, window: float, now: float, current: int) -> tuple[int, str]:
    """The fewest replicas a scale-down may leave now, and why (0, "": no floor)."""
    rise = rise_within(memory.arrivals, window, now)
    if rise:
        return current, (
            f"arrivals rising ({memory.arrivals[-1][1]:.0f}/s, +{rise:.0f}/s within "
            f"{window:.0f}s at the window's trend): no scale-down"
        )
    highest = max((r for _, r in within(memory.arrivals, window, now)), default=0.0)
    if not memory.per_replica or highest <= 0:
        return 0, ""
    floor = math.ceil(highest / memory.per_replica)
    return floor, (
        f"{floor} replicas kept for the {highest:.0f}/s that arrived within {window:.0f}s "
        f"at {memory.per_replica:.0f}/s per replica"
    )
