"""The replica decision for a Projection, as a pure function of what the round saw.

desired = max(offset rule, time rule), clamped to [minReplicas, maxReplicas], capped at the
partitions that have lag or received records since the last poll (a replica beyond them would
idle: KEDA #5880; one that keeps up leaves no lag but is busy) and at the topic's partition
count. Offset rule: ceil(lag / lagPerReplica). Time rule (with targetLagSeconds,
`drain.time_rule`): the replicas that drain the backlog within the target at the observed
drain rate. Stalled partitions ask for nothing (`stalls`). With minReplicas 0 the projection
sleeps while lag stays at or below activationLag and wakes to at least one replica above it
(KEDA's activation semantics). Scale-up happens at once; scale-down follows the highest
recommendation seen during the stabilization window (the HPA's rule), never while arrivals
rise, and never below the replicas that keep up with the window's highest arrival rate
(`arrivals`), then at most as fast as the scale-down policies allow (`rate_limit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from readside_operator.arrivals import keep_up_floor
from readside_operator.drain import RateMemory, time_rule
from readside_operator.rate_limit import SELECTS, ScaleDownPolicy, scale_down_floor
from readside_operator.stalls import StallMemory


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    min_replicas: int = 1
    max_replicas: int = 10
    lag_per_replica: int = 1000
    activation_lag: int = 1  # the CRD's default
    scale_down_stabilization_seconds: float = 300.0
    target_lag_seconds: float | None = None
    scale_down_policies: tuple[ScaleDownPolicy, ...] = ()
    scale_down_select: str = "Max"
    stalled_after_polls: int = 6

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
        if self.target_lag_seconds is not None and self.target_lag_seconds <= 0:
            raise ValueError(f"targetLagSeconds must be > 0, got {self.target_lag_seconds}")
        if self.scale_down_select not in SELECTS:
            raise ValueError(
                f"scaleDownSelectPolicy must be one of {SELECTS}, got {self.scale_down_select!r}"
            )
        if self.stalled_after_polls < 1:
            raise ValueError(f"stalledAfterPolls must be >= 1, got {self.stalled_after_polls}")


@dataclass(slots=True)
class ScalingHistory:
    """What the loop of one Projection remembers between polls (in memory only)."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)  # (time, replicas)
    scale_downs: list[tuple[float, int]] = field(default_factory=list)  # (time, removed)
    stalls: StallMemory = field(default_factory=StallMemory)
    rates: RateMemory = field(default_factory=RateMemory)


@dataclass(frozen=True, slots=True)
class Demand:
    """What asks for replicas: lag and age of the partitions that are not stalled."""

    lag: int
    lagging_partitions: int  # with lag or records arriving (not stalled)
    partitions: int
    oldest_seconds: float = 0.0
    stalled_lag: int = 0  # keeps a projection scaled to zero awake, asks for no more


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int  # what the Deployment should run now
    recommended: int  # what the lag alone asks for, before stabilization
    reason: str


def recommend(
    demand: Demand, current: int, policy: ScalingPolicy, rates: RateMemory | None = None
) -> tuple[int, str]:
    """Replicas the current lag asks for, before stabilization and the rate limit."""
    if demand.lag + demand.stalled_lag <= policy.activation_lag and policy.min_replicas == 0:
        total = demand.lag + demand.stalled_lag
        return 0, f"lag {total} at or below activationLag {policy.activation_lag}: idle"
    wanted = math.ceil(demand.lag / policy.lag_per_replica)
    reason = f"lag {demand.lag} / lagPerReplica {policy.lag_per_replica} -> {wanted}"
    if demand.stalled_lag:
        reason += f" (the {demand.stalled_lag} on stalled partitions ask for none)"
    if policy.target_lag_seconds is not None:
        by_time, why = time_rule(
            demand.lag,
            demand.oldest_seconds,
            policy.target_lag_seconds,
            rates or RateMemory(),
            current,
        )
        reason += f"; {why}"
        wanted = max(wanted, by_time)
    floor = max(policy.min_replicas, 1)
    replicas = min(max(wanted, floor), policy.max_replicas)
    if replicas != wanted:
        reason += f", clamped to [{floor}, {policy.max_replicas}]"
    cap = max(demand.lagging_partitions, floor)
    if replicas > cap:
        replicas = cap
        reason += f", capped at {demand.lagging_partitions} partitions with lag or new records"
    if demand.partitions > 0 and replicas > demand.partitions:
        replicas = demand.partitions
        reason += f", capped at {demand.partitions} partitions"
    return replicas, reason


def _held(history: ScalingHistory, window: float, now: float, current: int) -> tuple[int, str]:
    """The fewest replicas a scale-down may reach before the rate limit: the highest
    recommendation of the window, or more to keep up with what arrives (`arrivals`, with
    why; "" when the window decides)."""
    held = max(r for _, r in history.recommendations)
    keep, why = keep_up_floor(history.rates, window, now, current)
    return (keep, why) if keep > held else (held, "")


def decide(
    demand: Demand, current: int, policy: ScalingPolicy, history: ScalingHistory, now: float
) -> Decision:
    """The replicas to run now; `history` is updated in place (a scale-down decided here is
    counted against the rate limit from now)."""
    recommended, reason = recommend(demand, current, policy, history.rates)
    window = policy.scale_down_stabilization_seconds
    history.recommendations = [(t, r) for t, r in history.recommendations if now - t < window]
    history.recommendations.append((now, recommended))
    if recommended >= current:
        return Decision(recommended, recommended, reason)
    held, why = _held(history, window, now, current)
    if held >= current:
        wait = why or "waiting for the stabilization window"
        return Decision(current, recommended, f"{reason}; {wait}")
    reason += f"; {why or f'held lower for {window:.0f}s'}"
    longest = max((p.period_seconds for p in policy.scale_down_policies), default=0.0)
    history.scale_downs = [(t, n) for t, n in history.scale_downs if now - t < longest]
    floor = scale_down_floor(
        policy.scale_down_policies, policy.scale_down_select, current, history.scale_downs, now
    )
    desired = max(held, floor)
    if desired > held:
        reason += f"; scale-down limited to {desired} by the scale-down policies"
    if desired < current:
        history.scale_downs.append((now, current - desired))
    return Decision(desired, recommended, reason)
