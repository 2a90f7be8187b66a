"""The lock and the pause a replay holds on its Projection, as two annotations.

LOCK: one active replay per projection, taken with optimistic concurrency. PAUSE: the
autoscaler stands aside; an InPlace replay lifts it once the reset is done, so autoscaling
scales out on the backlog.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from readside_operator.kube import Conflict
from readside_operator.replay.state import ReplayRound, initial_status, phase_of
from readside_operator.resources import LOCK_ANNOTATION, PAUSE_ANNOTATION
from readside_operator.runtime import Runtime


async def other_holder(rt: Runtime, projection: dict[str, Any], name: str) -> str | None:
    """The other replay holding this projection, unless it is gone or finished (stale)."""
    holder = (projection["metadata"].get("annotations") or {}).get(LOCK_ANNOTATION)
    if not holder or holder == name:
        return None
    namespace = projection["metadata"]["namespace"]
    other = await rt.kube.get("ProjectionReplay", namespace, holder)
    if other is None or phase_of(other).finished:
        return None
    return str(holder)


async def take(rt: Runtime, projection: dict[str, Any], name: str) -> bool:
    """Lock and pause the projection for replay `name`; False if it changed since read."""
    meta = projection["metadata"]
    patch = {
        "metadata": {
            "resourceVersion": meta["resourceVersion"],
            "annotations": {LOCK_ANNOTATION: name, PAUSE_ANNOTATION: name},
        }
    }
    try:
        await rt.kube.patch("Projection", meta["namespace"], meta["name"], patch)
    except Conflict:
        return False
    return True


async def release(rt: Runtime, projection: dict[str, Any], name: str, *, lock: bool = True) -> None:
    """Lift the pause (and the lock) if this replay holds them."""
    meta = projection["metadata"]
    current = await rt.kube.get("Projection", meta["namespace"], meta["name"])
    held = ((current or {}).get("metadata") or {}).get("annotations") or {}
    keys = (PAUSE_ANNOTATION, LOCK_ANNOTATION) if lock else (PAUSE_ANNOTATION,)
    drop = {k: None for k in keys if held.get(k) == name}
    if drop:
        patch = {"metadata": {"annotations": drop}}
        await rt.kube.patch("Projection", meta["namespace"], meta["name"], patch)


async def claim(rt: Runtime, rnd: ReplayRound) -> tuple[ReplayRound, dict[str, Any]] | None:
    """Start the replay: its finalizer, the lock, the status it starts with. None when
    another replay took the projection first (the next round waits in Pending)."""
    # Our finalizer first: from here on, deleting the replay releases the projection.
    await rt.kube.add_finalizer("ProjectionReplay", rnd.namespace, rnd.name)
    if not await take(rt, rnd.projection, rnd.name):
        return None
    replicas, _ = await rt.kube.replicas(rnd.namespace, rnd.deployment)
    now = datetime.now(UTC)
    started = initial_status(rnd.projection, rnd.name, rnd.spec.strategy, replicas, now)
    return dataclasses.replace(rnd, status={**rnd.status, **started}), started
