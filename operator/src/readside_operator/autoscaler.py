"""One poll of a Projection: observe -> decide -> act -> report.

observe reads the Deployment's scale, the consumer group's lag with the timestamp of each
lagging partition's oldest unconsumed record, and the group's live members;
`autoscale_plan` decides (pure); act patches the scale subresource (after re-reading the
pause: a replay may have taken the projection since this round read it); report
(`autoscale_report`) writes the status, the conditions, the Events and the metrics.
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
from readside_operator.autoscale_report import report
from readside_operator.kube import post_event
from readside_operator.resources import PAUSE_ANNOTATION, active_consumer_group
from readside_operator.runtime import Runtime
from readside_operator.scaling import ScalingHistory

Log = logging.Logger | logging.LoggerAdapter[Any]


async def autoscale_once(
    rt: Runtime, projection: dict[str, Any], history: ScalingHistory, log: Log
) -> None:
    seen = await observe(rt, projection)
    plan = plan_round(projection, seen, history, time.monotonic())
    scaled = await act(rt, projection, seen, plan, log)
    await report(rt, projection, seen, plan, scaled, history, log)


async def observe(rt: Runtime, projection: dict[str, Any]) -> Seen:
    meta, spec = projection["metadata"], projection["spec"]
    try:
        current, _ = await rt.kube.replicas(meta["namespace"], spec["deployment"])
    except ApiError as exc:
        if exc.status.code != 404:
            raise
        return Seen(replicas=None)
    group = active_consumer_group(projection)
    try:
        inspector = await rt.inspector(spec["bootstrapServers"])
        lag = await inspector.lag(spec["topic"], group, with_times=True)
        state = await inspector.group_state(group)
    except KafkaLookupError as exc:
        await rt.forget(spec["bootstrapServers"])
        return Seen(replicas=current, lag_error=str(exc))
    return Seen(current, lag, members=state.members, at=datetime.now(UTC))


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


async def _paused_meanwhile(rt: Runtime, namespace: str, name: str) -> bool:
    """Whether a replay paused the projection since this round read it (one GET, made only
    before a scaling: the round's view may be seconds old)."""
    fresh = await rt.kube.get("Projection", namespace, name)
    return fresh is None or PAUSE_ANNOTATION in (fresh["metadata"].get("annotations") or {})
