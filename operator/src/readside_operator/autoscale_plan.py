"""What one autoscaling round of a Projection decides, from what it observed (pure).

The replica figure itself is `scaling.decide`; this adds the rest of the round's judgement:
never scale on a metric error or a missing topic, stand aside while a replay holds the
projection, only report when autoscaling is disabled, count stalled partitions out, and the
conditions that say which, each with what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from readside_kafka import GroupLag
from readside_operator.drain import ages, observe_rates
from readside_operator.rate_limit import ScaleDownPolicy
from readside_operator.resources import PAUSE_ANNOTATION
from readside_operator.scaling import Demand, ScalingHistory, ScalingPolicy, decide
from readside_operator.stalls import Stall, describe_stalls, newly_stalled, track_stalls


def policy_from(spec: dict[str, Any]) -> ScalingPolicy:
    """spec.autoscaling with the CRD's defaults."""
    auto = spec.get("autoscaling") or {}
    target = auto.get("targetLagSeconds")
    return ScalingPolicy(
        min_replicas=int(auto.get("minReplicas", 1)),
        max_replicas=int(auto.get("maxReplicas", 10)),
        lag_per_replica=int(auto.get("lagPerReplica", 1000)),
        activation_lag=int(auto.get("activationLag", 1)),
        scale_down_stabilization_seconds=float(auto.get("scaleDownStabilizationSeconds", 300)),
        target_lag_seconds=None if target is None else float(target),
        scale_down_policies=tuple(
            ScaleDownPolicy(str(p["type"]), int(p["value"]), float(p["periodSeconds"]))
            for p in auto.get("scaleDownPolicies") or ()
        ),
        scale_down_select=str(auto.get("scaleDownSelectPolicy", "Max")),
        stalled_after_polls=int(auto.get("stalledAfterPolls", 6)),
    )


def poll_interval(spec: dict[str, Any]) -> float:
    return float((spec.get("autoscaling") or {}).get("pollIntervalSeconds", 15))


@dataclass(frozen=True, slots=True)
class Seen:
    """What the round read: the Deployment's replicas (None: no such Deployment), the lag
    with the oldest unconsumed record per partition (None, with the reason, when Kafka could
    not be read), the group's live members, and when."""

    replicas: int | None
    lag: GroupLag | None = None
    lag_error: str | None = None
    members: int = 0
    at: datetime | None = None  # wall clock of the read, for the records' ages


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str
    ok: bool
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Findings:
    """What the round found beside the figure, for the status, the metrics and Events."""

    ages: dict[int, float] = field(default_factory=dict)  # lag seconds per lagging partition
    stalls: tuple[Stall, ...] = ()
    new_stalls: tuple[Stall, ...] = ()  # stalls not told yet: one Event


@dataclass(frozen=True, slots=True)
class Plan:
    desired: int | None  # the replicas to run; None when nothing can be said
    conditions: tuple[Condition, ...]
    reason: str = ""  # why `desired`
    found: Findings = field(default_factory=Findings)


def plan_round(
    projection: dict[str, Any], seen: Seen, history: ScalingHistory, clock: float
) -> Plan:
    """The replicas to run and the conditions to set; `history` is updated in place."""
    spec = projection["spec"]
    if seen.replicas is None:
        why = f"Deployment {spec['deployment']} not found: create it or fix spec.deployment"
        return Plan(None, (Condition("Ready", False, "DeploymentNotFound", why),))
    if seen.lag is None:
        return _lag_unavailable(seen.lag_error, seen.replicas)
    current, lag, policy = seen.replicas, seen.lag, policy_from(spec)
    stalls = track_stalls(
        history.stalls,
        lag,
        seen.members,
        policy.stalled_after_polls,
        records_read=seen.at is not None,
    )
    stalled = frozenset(s.partition for s in stalls)
    # Consumers: the group's live members, or the replicas when it reports none.
    observe_rates(history.rates, lag, seen.members or current, clock, stalled)
    found = ages(lag, seen.at) if seen.at is not None else {}
    told = (_read_condition(lag), _stalled_condition(stalls, seen.members))
    extra = Findings(found, stalls, newly_stalled(history.stalls, stalls))
    aside = _standing_aside(projection, lag, history)
    if aside is not None:
        return Plan(current, (*told, *aside), found=extra)
    if not history.recommendations:
        # After a start or a replay: a scale-down still waits for the whole window.
        history.recommendations.append((clock, current))
    demand = demand_of(lag, found, stalled, history.rates.receiving)
    decision = decide(demand, current, policy, history, clock)
    ready = Condition("Ready", True, "LagRead", decision.reason)
    scaling = Condition("Scaling", True, "Active", decision.reason)
    return Plan(decision.desired, (*told, ready, scaling), decision.reason, extra)


def _lag_unavailable(error: str | None, replicas: int) -> Plan:
    """Leave the replicas alone when the lag cannot be read, and say why."""
    why = (
        f"{error}; keeping {replicas} replicas. Check spec.bootstrapServers and that the "
        "operator's pod can reach the brokers (NetworkPolicy, DNS)"
    )
    kafka = Condition("KafkaReachable", False, "LagUnavailable", why)
    unknown = "lag unknown: replicas left as they are"
    return Plan(None, (kafka, Condition("Ready", False, "LagUnavailable", unknown)))


def demand_of(
    lag: GroupLag,
    found: dict[int, float],
    stalled: frozenset[int],
    receiving: frozenset[int] = frozenset(),
) -> Demand:
    """What asks for replicas: every partition that is not stalled; one counts toward the
    cap while it has lag or `receiving` (records arrived since the last poll)."""
    moving = [p for p in lag.partitions if p.partition not in stalled]
    return Demand(
        lag=sum(p.lag for p in moving),
        lagging_partitions=sum(1 for p in moving if p.lag > 0 or p.partition in receiving),
        partitions=len(lag.partitions),
        oldest_seconds=max((found.get(p.partition, 0.0) for p in moving), default=0.0),
        stalled_lag=sum(p.lag for p in lag.partitions if p.partition in stalled),
    )


def _read_condition(lag: GroupLag) -> Condition:
    return Condition("KafkaReachable", True, "LagRead", f"lag of consumer group {lag.group} read")


def _stalled_condition(stalls: tuple[Stall, ...], members: int) -> Condition:
    if stalls:
        return Condition("Stalled", True, "OffsetNotMoving", describe_stalls(stalls, members))
    return Condition("Stalled", False, "Moving", "every partition with lag is being consumed")


def _standing_aside(
    projection: dict[str, Any], lag: GroupLag, history: ScalingHistory
) -> tuple[Condition, ...] | None:
    """Why this round reports the lag but does not scale, or None when it may scale."""
    spec = projection["spec"]
    paused_by = (projection["metadata"].get("annotations") or {}).get(PAUSE_ANNOTATION)
    if not lag.partitions:
        why = f"topic {spec['topic']} does not exist; not scaling. Create it or fix spec.topic"
        return (Condition("Ready", False, "TopicNotFound", why),)
    if paused_by:
        history.recommendations.clear()
        holds = f"replay {paused_by} holds the projection"
        paused = f"autoscaling paused by replay {paused_by}"
        return (
            Condition("Ready", True, "ReplayRunning", holds),
            Condition("Scaling", False, "ReplayRunning", paused),
        )
    if not (spec.get("autoscaling") or {}).get("enabled", True):
        return (
            Condition("Ready", True, "AutoscalingDisabled", "lag reported, replicas not managed"),
            Condition("Scaling", False, "AutoscalingDisabled", "spec.autoscaling.enabled is false"),
        )
    return None
