"""What the phase machine needs to know this round, read for the current phase only."""

from __future__ import annotations

from typing import Any

from readside_operator.replay.lock import other_holder
from readside_operator.replay.phases import (
    JobState,
    Observation,
    PausingSeen,
    PendingSeen,
    Phase,
    ReplayingSeen,
    ResettingSeen,
    SwappingSeen,
)
from readside_operator.replay.report import Report
from readside_operator.replay.spec import InvalidReplay, check_partitions
from readside_operator.replay.state import ReplayRound
from readside_operator.resources import RESTART_ANNOTATION
from readside_operator.runtime import Runtime


async def observe(rt: Runtime, rnd: ReplayRound) -> Observation | Report:
    """The observation of the round's phase, or the Report of a replay that cannot go on."""
    if rnd.phase is Phase.PENDING:
        return await _pending(rt, rnd)
    if rnd.phase is Phase.PAUSING:
        wanted, running = await rt.kube.replicas(rnd.namespace, rnd.deployment)
        state = await rnd.inspector.group_state(rnd.consumer_group)
        return PausingSeen(wanted_replicas=wanted, replicas=running, group_empty=state.members == 0)
    if rnd.phase is Phase.RESETTING:
        return ResettingSeen(job_state(await _job(rt, rnd, rnd.names.reset)))
    if rnd.phase is Phase.REPLAYING:
        return ReplayingSeen((await rnd.inspector.lag(rnd.topic, rnd.consumer_group)).total)
    return await _swapping(rt, rnd)


async def _pending(rt: Runtime, rnd: ReplayRound) -> PendingSeen | Report:
    partitions = await rnd.inspector.partitions(rnd.topic)
    if not partitions:
        why = f"topic {rnd.topic!r} of Projection {rnd.spec.projection} does not exist"
        return Report.failed("TopicNotFound", why)
    try:
        check_partitions(rnd.spec, partitions)
    except InvalidReplay as exc:
        return Report.failed("InvalidSpec", str(exc))
    holder = await other_holder(rt, rnd.projection, rnd.name)
    return PendingSeen(other_replay_active=holder is not None)


async def _swapping(rt: Runtime, rnd: ReplayRound) -> SwappingSeen:
    promote = job_state(await _job(rt, rnd, rnd.names.promote))
    template = rnd.live["spec"]["template"].get("metadata") or {}
    moved = (template.get("annotations") or {}).get(RESTART_ANNOTATION) == rnd.name
    return SwappingSeen(
        promote_job=promote, live_moved=moved, live_rolled_out=moved and rolled_out(rnd.live)
    )


async def _job(rt: Runtime, rnd: ReplayRound, name: str) -> dict[str, Any] | None:
    return await rt.kube.get("Job", rnd.namespace, name)


def job_state(job: dict[str, Any] | None) -> JobState | None:
    """None when there is no Job, else whether it runs, succeeded or failed."""
    if job is None:
        return None
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return JobState.SUCCEEDED if condition["type"] == "Complete" else JobState.FAILED
    return JobState.RUNNING


def rolled_out(deployment: dict[str, Any] | None) -> bool:
    """The Deployment's current template runs on all its replicas, none older left."""
    if deployment is None:
        return False
    status = deployment.get("status", {})
    wanted = deployment["spec"].get("replicas", 1)
    return bool(
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
    )
