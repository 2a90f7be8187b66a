"""Scale-down rate limit (pure), the HPA's `behavior.scaleDown.policies` for Projections.

Each policy allows removing at most `value` replicas (type Replicas) or `value` percent of
the replicas (type Percent) per `periodSeconds`, counted from the replicas at the start of
the period (the current ones plus those removed during it). `selectPolicy` Max follows the
policy that allows the largest scale-down, Min the smallest, Disabled never scales down.
Applied after the stabilization window; no policy means no limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("Replicas", "Percent")
SELECTS = ("Max", "Min", "Disabled")


@dataclass(frozen=True, slots=True)
class ScaleDownPolicy:
    kind: str  # Replicas or Percent
    value: int
    period_seconds: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"scaleDownPolicies type must be one of {KINDS}, got {self.kind!r}")
        if self.value < 1 or self.period_seconds <= 0:
            raise ValueError(
                f"scaleDownPolicies value and periodSeconds must be >= 1, got "
                f"{self.value} per {self.period_seconds}s"
            )


def removed_within(scale_downs: list[tuple[float, int]], period: float, now: float) -> int:
    """Replicas removed by scale-downs in the last `period` seconds."""
    return sum(removed for at, removed in scale_downs if now - at < period)


def policy_floor(
    policy: ScaleDownPolicy, current: int, scale_downs: list[tuple[float, int]], now: float
) -> int:
    """The fewest replicas this policy allows now."""
    start = current + removed_within(scale_downs, policy.period_seconds, now)
    if policy.kind == "Replicas":
        return max(start - policy.value, 0)
    return max(math.ceil(start * (100 - policy.value) / 100), 0)


def scale_down_floor(
    policies: tuple[ScaleDownPolicy, ...],
    select: str,
    current: int,
    scale_downs: list[tuple[float, int]],
    now: float,
) -> int:
    """The fewest replicas a scale-down may reach now (`current` when none is allowed)."""
    if select == "Disabled":
        return current
    if not policies:
        return 0
    floors = [policy_floor(p, current, scale_downs, now) for p in policies]
    floor = min(floors) if select == "Max" else max(floors)
    return min(floor, current)
