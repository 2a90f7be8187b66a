"""The replica decision for a Projection, as a pure function of lag, partitions and history.

Desired replicas = ceil(total lag / lagPerReplica), clamped to [minReplicas, maxReplicas]
and to the topic's partition count (a consumer beyond the partitions would idle). With
minReplicas 0 the projection sleeps while lag stays at or below activationLag and wakes to at
least one replica above it (KEDA's activation semantics). Scale-up happens at once;
scale-down follows the highest recommendation seen during the stabilization window, so a
lower figure has to hold for the whole window first (the HPA's rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    min_replicas: int = 1
    max_replicas: int = 10
    lag_per_replica: int = 1000
    activation_lag: int = 1  # the CRD's default
    scale_down_stabilization_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.min_replicas < 0:
            raise ValueError(f"minReplicas must be >= 0, got {self.min_replicas}")
        if self.max_replicas < max(self.min_replicas, 1):
            raise ValueError(
                f"maxReplicas ({self.max_replicas}) must be >= minReplicas "
                f"({self.min_replicas}) and >= 1"
            )
        if self.lag_per_replica < 1:
            raise ValueError(f"lagPerReplica must be >= 1, got {self.lag_per_replica}")
        if self.activation_lag < 0:
            raise ValueError(f"activationLag must be >= 0, got {self.activation_lag}")


@dataclass(slots=True)
class ScalingHistory:
    """Recommendations (time, replicas) inside the stabilization window."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int  # what the Deployment should run now
    recommended: int  # what the lag alone asks for, before stabilization
    reason: str


def recommend(lag: int, partitions: int, policy: ScalingPolicy) -> tuple[int, str]:
    """Replicas the current lag asks for, before stabilization."""
    if lag <= policy.activation_lag and policy.min_replicas == 0:
        return 0, f"lag {lag} at or below activationLag {policy.activation_lag}: idle"
    wanted = math.ceil(lag / policy.lag_per_replica)
    floor = max(policy.min_replicas, 1)
    replicas = min(max(wanted, floor), policy.max_replicas)
    reason = f"lag {lag} / lagPerReplica {policy.lag_per_replica} -> {wanted}"
    if replicas != wanted:
        reason += f", clamped to [{floor}, {policy.max_replicas}]"
    if partitions > 0 and replicas > partitions:
        replicas = partitions
        reason += f", capped at {partitions} partitions"
    return replicas, reason


def decide(
    lag: int,
    partitions: int,
    current: int,
    policy: ScalingPolicy,
    history: ScalingHistory,
    now: float,
) -> Decision:
    """The replicas to run now; `history` is updated in place."""
    recommended, reason = recommend(lag, partitions, policy)
    window = policy.scale_down_stabilization_seconds
    history.recommendations = [(t, r) for t, r in history.recommendations if now - t < window]
    history.recommendations.append((now, recommended))
    if recommended >= current:
        return Decision(recommended, recommended, reason)
    held = max(r for _, r in history.recommendations)
    if held < current:
        return Decision(held, recommended, f"{reason}; held lower for {window:.0f}s")
    return Decision(current, recommended, f"{reason}; waiting for the stabilization window")
