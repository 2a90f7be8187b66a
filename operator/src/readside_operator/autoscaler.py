"""One poll of a Projection: observe -> decide -> act -> report.

observe reads the Deployment's scale and the consumer group's lag; `autoscale_plan` decides
(pure); act patches the scale subresource (after re-reading the pause: a replay may have
taken the projection since this round read it); report writes the status, the conditions,
an Event per scaling and the metrics.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from lightkube import ApiError

from readside_kafka import KafkaLookupError
from readside_operator import metrics
from readside_operator.autoscale_plan import Plan, Seen, plan_round
from readside_operator.kube import post_event
from readside_operator.resources import (
    PAUSE_ANNOTATION,
    active_consumer_group,
    set_condition,
    timestamp,
)
from readside_operator.runtime import Runtime
from readside_operator.scaling import ScalingHistory

Log = logging.Logger | logging.LoggerAdapter[Any]


async def autoscale_once(
    rt: Runtime, projection: dict[str, Any], history: ScalingHistory, log: Log
) -> None:
    seen = await observe(rt, projection)
    plan = plan_round(projection, seen, history, time.monotonic())
    scaled = await act(rt, projection, seen, plan, log)
    await report(rt, projection, seen, plan, scaled, log)


async def observe(rt: Runtime, projection: dict[str, Any]) -> Seen:
    meta, spec = projection["metadata"], projection["spec"]
    try:
        current, _ = await rt.kube.replicas(meta["namespace"], spec["deployment"])
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        return Seen(replicas=None)
    try:
        inspector = await rt.inspector(spec["bootstrapServers"])
        lag = await inspector.lag(spec["topic"], active_consumer_group(projection))
    except KafkaLookupError as exc:
        await rt.forget(spec["bootstrapServers"])
        return Seen(replicas=current, lag_error=str(exc))
    return Seen(replicas=current, lag=lag)


async def act(
    rt: Runtime, projection: dict[str, Any], seen: Seen, plan: Plan, log: Log
) -> int | None:
    """Scale to the plan's figure; the replicas scaled to, or None when nothing changed."""
    if plan.desired is None or seen.replicas is None or plan.desired == seen.replicas:
        return None
    meta, deployment = projection["metadata"], projection["spec"]["deployment"]
    if await _paused_meanwhile(rt, meta["namespace"], meta["name"]):
        return None  # a replay took the projection during this round: hands off
    await rt.kube.scale(meta["namespace"], deployment, plan.desired)
    direction = "up" if plan.desired > seen.replicas else "down"
    metrics.SCALINGS.labels(meta["namespace"], meta["name"], direction).inc()
    message = f"scaled {deployment} from {seen.replicas} to {plan.desired}: {plan.reason}"
    log.info(message)
    post_event(projection, "Scaled", message)
    return plan.desired


async def report(
    rt: Runtime,
    projection: dict[str, Any],
    seen: Seen,
    plan: Plan,
    scaled: int | None,
    log: Log,
) -> None:
    """The Projection's status and the metrics of this round."""
    meta, spec = projection["metadata"], projection["spec"]
    labels = (meta["namespace"], meta["name"], spec["topic"], active_consumer_group(projection))
    status: dict[str, Any] = {"observedGeneration": meta.get("generation")}
    now = datetime.now(UTC)
    if seen.replicas is not None:
        status["replicas"] = seen.replicas if scaled is None else scaled
        metrics.REPLICAS.labels(*labels).set(status["replicas"])
    if seen.lag_error is not None:
        metrics.LAG_ERRORS.labels(meta["namespace"], meta["name"]).inc()
        log.warning(
            "cannot read the lag of %s; keeping %d replicas: %s",
            labels[3],
            seen.replicas,
            seen.lag_error,
        )
    if seen.lag is not None:
        status.update(_lag_status(seen, labels))
    if scaled is not None:
        status["lastScaleTime"] = timestamp(now)
    if plan.desired is not None:
        # Not the plan's figure when a replay paused the projection meanwhile: unchanged.
        status["desiredReplicas"] = seen.replicas if scaled is None else scaled
        metrics.DESIRED.labels(*labels).set(status["desiredReplicas"])
    found = (projection.get("status") or {}).get("conditions")
    for c in plan.conditions:
        found = set_condition(found, c.kind, c.ok, c.reason, c.message, meta.get("generation"), now)
    status["conditions"] = found
    await rt.kube.patch_status("Projection", meta["namespace"], meta["name"], status)


def _lag_status(seen: Seen, labels: tuple[str, str, str, str]) -> dict[str, Any]:
    lag = seen.lag
    if lag is None:
        return {}
    metrics.LAG.labels(*labels).set(lag.total)
    for p in lag.partitions:
        metrics.PARTITION_LAG.labels(*labels, str(p.partition)).set(p.lag)
    partitions = [
        {"partition": p.partition, "endOffset": p.end, "lag": p.lag}
        | ({} if p.committed is None else {"committedOffset": p.committed})
        for p in lag.partitions
    ]
    return {"lag": {"total": lag.total, "partitions": partitions}, "partitions": len(partitions)}


async def _paused_meanwhile(rt: Runtime, namespace: str, name: str) -> bool:
    """Whether a replay paused the projection since this round read it (one GET, made only
    before a scaling: the round's view may be seconds old)."""
    fresh = await rt.kube.get("Projection", namespace, name)
    return fresh is None or PAUSE_ANNOTATION in (fresh["metadata"].get("annotations") or {})
