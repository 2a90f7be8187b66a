"""What one autoscaling round of a Projection decides, from what it observed (pure).

The replica figure itself is `scaling.decide`; this adds the rest of the round's judgement:
never scale on a metric error or a missing topic, stand aside while a replay holds the
projection, only report when autoscaling is disabled, and the conditions that say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readside_kafka import GroupLag
from readside_operator.resources import PAUSE_ANNOTATION
from readside_operator.scaling import ScalingHistory, ScalingPolicy, decide


def policy_from(spec: dict[str, Any]) -> ScalingPolicy:
    """spec.autoscaling with the CRD's defaults."""
    auto = spec.get("autoscaling") or {}
    return ScalingPolicy(
        min_replicas=int(auto.get("minReplicas", 1)),
        max_replicas=int(auto.get("maxReplicas", 10)),
        lag_per_replica=int(auto.get("lagPerReplica", 1000)),
        activation_lag=int(auto.get("activationLag", 1)),
        scale_down_stabilization_seconds=float(auto.get("scaleDownStabilizationSeconds", 300)),
    )


def poll_interval(spec: dict[str, Any]) -> float:
    return float((spec.get("autoscaling") or {}).get("pollIntervalSeconds", 15))


@dataclass(frozen=True, slots=True)
class Seen:
    """What the round read: the Deployment's replicas (None: no such Deployment) and the lag
    (None, with the reason, when Kafka could not be read)."""

    replicas: int | None
    lag: GroupLag | None = None
    lag_error: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str
    ok: bool
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    desired: int | None  # the replicas to run; None when nothing can be said
    conditions: tuple[Condition, ...]
    reason: str = ""  # why `desired`


def plan_round(
    projection: dict[str, Any], seen: Seen, history: ScalingHistory, clock: float
) -> Plan:
    """The replicas to run and the conditions to set; `history` is updated in place."""
    spec = projection["spec"]
    if seen.replicas is None:
        why = f"Deployment {spec['deployment']} not found"
        return Plan(None, (Condition("Ready", False, "DeploymentNotFound", why),))
    current = seen.replicas
    if seen.lag is None:
        why = f"{seen.lag_error}; keeping {current} replicas"
        kafka = Condition("KafkaReachable", False, "LagUnavailable", why)
        unknown = "lag unknown: replicas left as they are"
        return Plan(None, (kafka, Condition("Ready", False, "LagUnavailable", unknown)))
    read = Condition(
        "KafkaReachable", True, "LagRead", f"lag of consumer group {seen.lag.group} read"
    )
    aside = _standing_aside(projection, seen.lag, history)
    if aside is not None:
        return Plan(current, (read, *aside))
    if not history.recommendations:
        # After a start or a replay: a scale-down still waits for the whole window.
        history.recommendations.append((clock, current))
    lag = seen.lag
    decision = decide(lag.total, len(lag.partitions), current, policy_from(spec), history, clock)
    ready = Condition("Ready", True, "LagRead", decision.reason)
    scaling = Condition("Scaling", True, "Active", decision.reason)
    return Plan(decision.desired, (read, ready, scaling), decision.reason)


def _standing_aside(
    projection: dict[str, Any], lag: GroupLag, history: ScalingHistory
) -> tuple[Condition, ...] | None:
    """Why this round reports the lag but does not scale, or None when it may scale."""
    spec = projection["spec"]
    paused_by = (projection["metadata"].get("annotations") or {}).get(PAUSE_ANNOTATION)
    if not lag.partitions:
        why = f"topic {spec['topic']} does not exist; not scaling"
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
