"""One round of one ProjectionReplay: observe -> decide (phases.next_phase) -> act -> report.

Every action is idempotent (Jobs and the shadow have fixed names; creating one that exists
is a no-op), so a round cut short anywhere is simply done again by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readside_kafka import KafkaLookupError
from readside_operator.replay.act import act
from readside_operator.replay.lock import claim
from readside_operator.replay.observe import observe
from readside_operator.replay.phases import Action, Phase, ReplayingSeen, next_phase, progress
from readside_operator.replay.report import Log, Report, export, record
from readside_operator.replay.restore import restore
from readside_operator.replay.spec import InvalidReplay, ReplaySpec, Strategy, parse_spec
from readside_operator.replay.state import ReplayRound, phase_of
from readside_operator.runtime import Runtime

CRD_OUTDATED = (
    "the replay's status lost its readModel/consumerGroup fields: the installed CRD is "
    "older than the operator; upgrade the chart with operator.upgradeCrds (the default), or "
    "apply its crds/ with kubectl apply --server-side, and create the replay again"
)


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a replay cannot go on, and its projection when there is one to give back."""

    projection: dict[str, Any] | None
    report: Report


async def step(rt: Runtime, log: Log, replay: dict[str, Any]) -> bool:
    """Advance the replay by at most one phase; True once it has finished."""
    phase = phase_of(replay)
    if phase.finished:
        export(replay, phase)
        return True
    found = await _find_projection(rt, replay, phase)
    if isinstance(found, Stop):
        await finish(rt, log, replay, found.projection, found.report)
        return True
    spec, projection = found
    try:
        rnd = await _begin(rt, replay, spec, projection)
        if isinstance(rnd, Stop):
            await finish(rt, log, replay, rnd.projection, rnd.report)
            return True
        return await _advance(rt, log, rnd)
    except KafkaLookupError as exc:
        await rt.forget(projection["spec"]["bootstrapServers"])
        report = Report(phase, "KafkaUnavailable", f"{exc}; retrying")
        await record(rt, log, replay, report)
        return False


async def _find_projection(
    rt: Runtime, replay: dict[str, Any], phase: Phase
) -> tuple[ReplaySpec, dict[str, Any]] | Stop:
    namespace, status = replay["metadata"]["namespace"], replay.get("status") or {}
    try:
        spec = parse_spec(replay["spec"])
    except InvalidReplay as exc:
        return Stop(None, Report.failed("InvalidSpec", str(exc)))
    projection = await rt.kube.get("Projection", namespace, spec.projection)
    if projection is None:
        why = (
            f"Projection {spec.projection!r} not found in namespace {namespace}: "
            "create it or fix spec.projection"
        )
        return Stop(None, Report.failed("ProjectionNotFound", why))
    if phase is not Phase.PENDING and not {"readModel", "consumerGroup"} <= status.keys():
        return Stop(projection, Report.failed("CRDOutdated", CRD_OUTDATED))
    return spec, projection


async def _begin(
    rt: Runtime, replay: dict[str, Any], spec: ReplaySpec, projection: dict[str, Any]
) -> ReplayRound | Stop:
    """What the round works with: the brokers' inspector, the projection Deployment."""
    inspector = await rt.inspector(projection["spec"]["bootstrapServers"])
    deployment = projection["spec"]["deployment"]
    live = await rt.kube.get("Deployment", replay["metadata"]["namespace"], deployment)
    if live is None:
        why = f"Deployment {deployment} of Projection {spec.projection} not found"
        return Stop(projection, Report.failed("DeploymentNotFound", why))
    status = dict(replay.get("status") or {})
    return ReplayRound(replay, spec, projection, live, inspector, status)


async def _advance(rt: Runtime, log: Log, rnd: ReplayRound) -> bool:
    seen = await observe(rt, rnd)
    if isinstance(seen, Report):
        await finish(rt, log, rnd.replay, rnd.projection, seen)
        return True
    caught_up = int(rnd.replay["spec"].get("catchUpLag", 0))
    decided = next_phase(rnd.phase, rnd.spec.strategy, seen, rnd.spec.dry_run, caught_up)
    update: dict[str, Any] = {}
    starts = rnd.phase is Phase.PENDING and decided.phase is not Phase.PENDING
    if starts and decided.action is not Action.REPORT_OFFSETS:
        claimed = await claim(rt, rnd)
        if claimed is None:
            return False  # lost the race for the lock: the next round waits in Pending
        rnd, update = claimed
    if isinstance(seen, ReplayingSeen) and seen.lag is not None:
        update["progress"] = progress(rnd.start_lag, seen.lag)
    if decided.phase is Phase.SUCCEEDED and rnd.spec.strategy is Strategy.IN_PLACE:
        update["progress"] = progress(rnd.start_lag, 0)
    report = await act(rt, rnd, decided.action, Report.of(decided, update))
    if report.phase.finished:
        await finish(rt, log, rnd.replay, rnd.projection, report)
        return True
    await record(rt, log, rnd.replay, report)
    return False


async def finish(
    rt: Runtime,
    log: Log,
    replay: dict[str, Any],
    projection: dict[str, Any] | None,
    report: Report,
) -> None:
    """Give the projection back, record the end, drop the replay's finalizer."""
    if projection is not None:
        await restore(rt, replay, projection, failed=report.phase is not Phase.SUCCEEDED)
    await record(rt, log, replay, report)
    meta = replay["metadata"]
    await rt.kube.remove_finalizer("ProjectionReplay", meta["namespace"], meta["name"])
