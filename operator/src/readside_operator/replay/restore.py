"""Giving the projection back when a replay ends, fails or is deleted."""

from __future__ import annotations

from typing import Any

from readside_core.read_model_version import PUBLIC_SCHEMA
from readside_operator.kube import post_event
from readside_operator.replay.children import drop_job
from readside_operator.replay.lock import release
from readside_operator.replay.phases import Phase
from readside_operator.replay.report import Log
from readside_operator.replay.spec import Strategy
from readside_operator.replay.state import ChildNames, phase_of
from readside_operator.runtime import Runtime


async def restore(
    rt: Runtime, replay: dict[str, Any], projection: dict[str, Any], *, failed: bool
) -> None:
    """Its replicas after a failed pause or reset, the shadow removed, the old or unfinished
    version dropped, autoscaling resumed."""
    namespace, name = replay["metadata"]["namespace"], replay["metadata"]["name"]
    deployment = projection["spec"]["deployment"]
    status = replay.get("status") or {}
    phase = phase_of(replay)
    names = ChildNames.of(name, deployment)
    blue_green = replay["spec"].get("strategy") == Strategy.BLUE_GREEN
    before = status.get("replicasBefore")
    if failed and not blue_green and phase in (Phase.PAUSING, Phase.RESETTING):
        await rt.kube.delete("Job", namespace, names.reset)
        if before is not None:
            await rt.kube.scale(namespace, deployment, int(before))
    if blue_green and phase is not Phase.PENDING:
        await rt.kube.delete("Deployment", namespace, names.shadow)
        read_model = status.get("readModel") or {}
        drop = read_model.get("schema") if failed else read_model.get("previousSchema")
        live = await rt.kube.get("Deployment", namespace, deployment)
        if drop and drop != PUBLIC_SCHEMA and live is not None:
            await rt.kube.create(drop_job(replay, live, names, drop))
    await release(rt, projection, name)


async def cancel(rt: Runtime, log: Log, replay: dict[str, Any]) -> None:
    """A replay deleted before it finished: leave the projection as it was, autoscaled."""
    phase = phase_of(replay)
    if phase.finished:
        return
    meta = replay["metadata"]
    projection = await rt.kube.get(
        "Projection", meta["namespace"], replay["spec"].get("projection", "")
    )
    if projection is None:
        return
    await restore(rt, replay, projection, failed=True)
    message = f"replay {meta['name']} deleted in phase {phase.value}: projection released"
    log.info(message)
    post_event(projection, "ReplayCancelled", message)
