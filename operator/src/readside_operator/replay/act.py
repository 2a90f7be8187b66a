"""Carrying out the one Action the phase machine chose; each returns the round's Report."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from readside_kafka import ResetError
from readside_operator.replay import children
from readside_operator.replay.lock import release
from readside_operator.replay.phases import Action, Phase
from readside_operator.replay.report import Report
from readside_operator.replay.spec import Strategy
from readside_operator.replay.state import ReplayRound
from readside_operator.resources import RESTART_ANNOTATION
from readside_operator.runtime import Runtime

Act = Callable[[Runtime, ReplayRound, Report], Awaitable[Report]]


async def act(rt: Runtime, rnd: ReplayRound, action: Action | None, report: Report) -> Report:
    """Do `action` (None: nothing) and return `report`, amended with what it found."""
    if action is None:
        return report
    return await _ACTIONS[action](rt, rnd, report)


async def _report_offsets(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    try:
        offsets = await rnd.inspector.plan_offsets(rnd.topic, rnd.spec.reset_target())
    except ResetError as exc:
        return Report.failed("InvalidSpec", str(exc))
    ordered = sorted(offsets.items())
    listed = ", ".join(f"{p}:{o}" for p, o in ordered)
    message = f"dry run: a reset would restart from {listed}; nothing changed"
    update = {"offsets": [{"partition": p, "offset": o} for p, o in ordered]}
    return Report(Phase.SUCCEEDED, "DryRun", message, update)


async def _scale_to_zero(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    await rt.kube.scale(rnd.namespace, rnd.deployment, 0)
    return report


async def _run_reset_job(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    await rt.kube.create(children.reset_job(rnd))
    return report


async def _resume(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    """InPlace: scale back up and lift the pause; BlueGreen: start the shadow."""
    lag = await rnd.inspector.lag(rnd.topic, rnd.consumer_group)
    partitions = max(len(lag.partitions), 1)
    replicas = min(max(int(rnd.status.get("replicasBefore") or 0), 1), partitions)
    if rnd.spec.strategy is Strategy.IN_PLACE:
        await rt.kube.scale(rnd.namespace, rnd.deployment, replicas)
        await release(rt, rnd.projection, rnd.name, lock=False)
    else:
        await rt.kube.create(children.shadow(rnd, replicas))
    return dataclasses.replace(report, update={**report.update, "startLag": lag.total})


async def _promote(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    await rt.kube.create(children.promote_job(rnd))
    return report


async def _move_live(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    """The live projection follows the live pointer on start: a restart moves it."""
    version = rnd.new_version()
    read_model = {"schema": version.read_model_schema, "consumerGroup": version.consumer_group}
    name = rnd.projection["metadata"]["name"]
    await rt.kube.patch_status("Projection", rnd.namespace, name, {"readModel": read_model})
    restart = {RESTART_ANNOTATION: rnd.name}
    patch = {"spec": {"template": {"metadata": {"annotations": restart}}}}
    await rt.kube.patch("Deployment", rnd.namespace, rnd.deployment, patch)
    return report


async def _nothing(rt: Runtime, rnd: ReplayRound, report: Report) -> Report:
    """RESTORE: done when the replay finishes (replayer.finish)."""
    return report


_ACTIONS: dict[Action, Act] = {
    Action.REPORT_OFFSETS: _report_offsets,
    Action.SCALE_TO_ZERO: _scale_to_zero,
    Action.RUN_RESET_JOB: _run_reset_job,
    Action.RESUME: _resume,
    Action.PROMOTE: _promote,
    Action.MOVE_LIVE: _move_live,
    Action.RESTORE: _nothing,
}
