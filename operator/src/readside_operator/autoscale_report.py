"""What an autoscaling round tells: the Projection's status (lag in records and seconds per
partition, stalled partitions, observed rates, replicas, conditions), one Warning Event per
newly stalled partition set, and the metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from readside_operator import metrics
from readside_operator.autoscale_plan import Plan, Seen
from readside_operator.kube import post_event
from readside_operator.resources import active_consumer_group, set_condition, timestamp
from readside_operator.runtime import Runtime
from readside_operator.scaling import ScalingHistory
from readside_operator.stalls import describe_stalls

Log = logging.Logger | logging.LoggerAdapter[Any]
Labels = tuple[str, str, str, str]


async def report(
    rt: Runtime,
    projection: dict[str, Any],
    seen: Seen,
    plan: Plan,
    scaled: int | None,
    history: ScalingHistory,
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
            "cannot read the lag of %s; keeping %s replicas: %s",
            labels[3],
            seen.replicas,
            seen.lag_error,
        )
    if seen.lag is not None:
        status.update(lag_status(seen, plan, labels))
        status["rates"] = rates_status(history)
    _tell_stalls(projection, seen, plan, log)
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


def lag_status(seen: Seen, plan: Plan, labels: Labels) -> dict[str, Any]:
    """status.lag and status.partitions; the lag gauges (pure but for the gauges)."""
    lag = seen.lag
    if lag is None:
        return {}
    ages, stalled = plan.found.ages, {s.partition: s for s in plan.found.stalls}
    oldest = max(ages.values(), default=0.0)
    metrics.LAG.labels(*labels).set(lag.total)
    metrics.LAG_SECONDS.labels(*labels).set(oldest)
    metrics.STALLED.labels(*labels).set(len(stalled))
    partitions = []
    for p in lag.partitions:
        metrics.PARTITION_LAG.labels(*labels, str(p.partition)).set(p.lag)
        metrics.PARTITION_LAG_SECONDS.labels(*labels, str(p.partition)).set(
            ages.get(p.partition, 0)
        )
        row: dict[str, Any] = {
            "partition": p.partition,
            "endOffset": p.end,
            "logStartOffset": p.log_start,
            "lag": p.lag,
            "lagSeconds": round(ages.get(p.partition, 0.0), 1),
        }
        if p.committed is not None:
            row["committedOffset"] = p.committed
        if p.partition in stalled:
            row["stalledPolls"] = stalled[p.partition].polls
        partitions.append(row)
    summary = {"total": lag.total, "seconds": round(oldest, 1), "stalled": len(stalled)}
    return {"lag": {**summary, "partitions": partitions}, "partitions": len(partitions)}


def rates_status(history: ScalingHistory) -> dict[str, float]:
    """The rates observed between the last two polls (smoothed), where known."""
    rates = history.rates
    found = {
        "consumedPerSecond": rates.consumed,
        "producedPerSecond": rates.produced,
        "drainPerReplicaPerSecond": rates.per_replica,
    }
    return {k: round(v, 1) for k, v in found.items() if v is not None}


def _tell_stalls(projection: dict[str, Any], seen: Seen, plan: Plan, log: Log) -> None:
    """One Warning Event and log line per newly stalled set of partitions."""
    if not plan.found.new_stalls:
        return
    message = describe_stalls(plan.found.new_stalls, seen.members)
    log.warning("stalled: %s", message)
    post_event(projection, "Stalled", message, warning=True)
