"""One poll of a Projection: read the lag, decide the replicas, scale, report.

The decision itself is `scaling.decide` (pure); this module observes (Kafka lag, the
Deployment's scale), acts (patches the scale subresource, records an Event) and reports
(status, conditions, metrics). It never scales on a metric error and stands aside while a
replay holds the projection.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from lightkube import ApiError

from readside_kafka import KafkaLookupError
from readside_operator import metrics
from readside_operator.kube import post_event
from readside_operator.resources import PAUSE_ANNOTATION, set_condition, timestamp
from readside_operator.runtime import Runtime, active_consumer_group
from readside_operator.scaling import ScalingHistory, ScalingPolicy, decide


def policy_from(spec: dict[str, Any]) -> ScalingPolicy:
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


async def autoscale_once(
    rt: Runtime,
    projection: dict[str, Any],
    history: ScalingHistory,
    log: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    meta, spec = projection["metadata"], projection["spec"]
    namespace, name = meta["namespace"], meta["name"]
    generation = meta.get("generation")
    topic, deployment = spec["topic"], spec["deployment"]
    group = active_consumer_group(projection)
    labels = (namespace, name, topic, group)
    conditions = (projection.get("status") or {}).get("conditions")
    now = datetime.now(UTC)
    status: dict[str, Any] = {"observedGeneration": generation}

    def condition(kind: str, ok: bool, reason: str, message: str) -> None:
        nonlocal conditions
        conditions = set_condition(conditions, kind, ok, reason, message, generation, now)

    try:
        current, _ = await rt.kube.replicas(namespace, deployment)
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        condition("Ready", False, "DeploymentNotFound", f"Deployment {deployment} not found")
        await rt.kube.patch_status(
            "Projection", namespace, name, {**status, "conditions": conditions}
        )
        return
    status["replicas"] = current
    metrics.REPLICAS.labels(*labels).set(current)

    try:
        inspector = await rt.inspector(spec["bootstrapServers"])
        lag = await inspector.lag(topic, group)
    except KafkaLookupError as exc:
        await rt.forget(spec["bootstrapServers"])
        metrics.LAG_ERRORS.labels(namespace, name).inc()
        log.warning("cannot read the lag of %s; keeping %d replicas: %s", group, current, exc)
        condition("KafkaReachable", False, "LagUnavailable", f"{exc}; keeping {current} replicas")
        condition("Ready", False, "LagUnavailable", "lag unknown: replicas left as they are")
        await rt.kube.patch_status(
            "Projection", namespace, name, {**status, "conditions": conditions}
        )
        return
    condition("KafkaReachable", True, "LagRead", f"lag of consumer group {group} read")
    status["lag"] = {
        "total": lag.total,
        "partitions": [
            {"partition": p.partition, "endOffset": p.end, "lag": p.lag}
            | ({} if p.committed is None else {"committedOffset": p.committed})
            for p in lag.partitions
        ],
    }
    status["partitions"] = len(lag.partitions)
    metrics.LAG.labels(*labels).set(lag.total)
    for p in lag.partitions:
        metrics.PARTITION_LAG.labels(*labels, str(p.partition)).set(p.lag)

    auto = spec.get("autoscaling") or {}
    paused_by = (meta.get("annotations") or {}).get(PAUSE_ANNOTATION)
    desired = current
    if not lag.partitions:
        condition("Ready", False, "TopicNotFound", f"topic {topic} does not exist; not scaling")
    elif paused_by:
        condition("Ready", True, "ReplayRunning", f"replay {paused_by} holds the projection")
        condition("Scaling", False, "ReplayRunning", f"autoscaling paused by replay {paused_by}")
        history.recommendations.clear()
    elif not auto.get("enabled", True):
        condition("Ready", True, "AutoscalingDisabled", "lag reported, replicas not managed")
        condition("Scaling", False, "AutoscalingDisabled", "spec.autoscaling.enabled is false")
    else:
        clock = time.monotonic()
        if not history.recommendations:
            # After a start or a replay: a scale-down still waits for the whole window.
            history.recommendations.append((clock, current))
        decision = decide(
            lag.total, len(lag.partitions), current, policy_from(spec), history, clock
        )
        desired = decision.desired
        if desired != current and await _paused_meanwhile(rt, namespace, name):
            desired = current  # a replay took the projection during this round: hands off
        if desired != current:
            await rt.kube.scale(namespace, deployment, desired)
            direction = "up" if desired > current else "down"
            metrics.SCALINGS.labels(namespace, name, direction).inc()
            message = f"scaled {deployment} from {current} to {desired}: {decision.reason}"
            log.info(message)
            post_event(projection, "Scaled", message)
            status["replicas"] = desired
            status["lastScaleTime"] = timestamp(now)
            metrics.REPLICAS.labels(*labels).set(desired)
        condition("Ready", True, "LagRead", decision.reason)
        condition("Scaling", True, "Active", decision.reason)
    status["desiredReplicas"] = desired
    metrics.DESIRED.labels(*labels).set(desired)
    await rt.kube.patch_status("Projection", namespace, name, {**status, "conditions": conditions})


async def _paused_meanwhile(rt: Runtime, namespace: str, name: str) -> bool:
    """Whether a replay paused the projection since this round read it (one GET, made only
    before a scaling: the round's view may be seconds old)."""
    fresh = await rt.kube.get("Projection", namespace, name)
    return fresh is None or PAUSE_ANNOTATION in (fresh["metadata"].get("annotations") or {})
