"""kopf registrations: watch events start an asyncio loop per Projection (autoscaling) and
per unfinished ProjectionReplay.

Each Projection polls at its own spec.autoscaling.pollIntervalSeconds and keeps its
stabilization history in memory; each replay loops until it has finished. No kopf daemon or
deletion handler, so kopf puts no finalizer anywhere: a replay holds its own finalizer only
while it holds a projection, and deleting it then releases the projection first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

from readside_operator.autoscale_plan import poll_interval
from readside_operator.autoscaler import autoscale_once
from readside_operator.kube import GROUP, REPLAY_FINALIZER, VERSION, Kube
from readside_operator.replay import replayer
from readside_operator.replay.restore import cancel
from readside_operator.replay.state import phase_of
from readside_operator.round_error_report import RoundErrors
from readside_operator.round_errors import ErrorMemory
from readside_operator.runtime import Runtime
from readside_operator.scaling import ScalingHistory
from readside_operator.settings import OperatorSettings

_log = logging.getLogger("readside_operator.autoscaler")
_replay_log = logging.getLogger("readside_operator.replayer")
Key = tuple[str, str]


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="readside.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="readside.io")
    settings.posting.level = logging.INFO
    # Namespaced RBAC: no cluster-wide listing of CRDs and namespaces (the resources are
    # resolved once at start; the chart installs the CRDs before the operator).
    settings.scanning.disabled = True
    for noisy in ("httpx", "aiohttp.access"):  # a line per API call / per liveness probe
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 30
    ours = OperatorSettings.from_env()
    if ours.metrics_port:
        start_http_server(ours.metrics_port)
    memo.runtime = Runtime(Kube(), ours)
    memo.projections = {}
    memo.autoscalers = {}
    memo.replays = {}


@kopf.on.cleanup()
async def close(memo: Any, **_: Any) -> None:
    tasks = [*memo.autoscalers.values(), *memo.replays.values()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await memo.runtime.close()


@kopf.on.event(GROUP, VERSION, "projections")
async def track(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    """Keep the latest body of every Projection; one autoscaling loop per Projection.

    Not a kopf daemon: daemons put a finalizer on the resource, and a Projection must stay
    deletable when the operator is gone (helm uninstall, namespace deletion).
    """
    body = event["object"]
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    projections: dict[Key, dict[str, Any]] = memo.projections
    if event["type"] == "DELETED":
        projections.pop(key, None)
        return
    projections[key] = dict(body)
    task = memo.autoscalers.get(key)
    if task is None or task.done():
        memo.autoscalers[key] = asyncio.create_task(_autoscale(key, memo))


async def _autoscale(key: Key, memo: Any) -> None:
    log = logging.LoggerAdapter(_log, {"projection": "/".join(key)})
    history = ScalingHistory()
    errors = RoundErrors(memo.runtime, "Projection", log, ErrorMemory())
    while (projection := memo.projections.get(key)) is not None:
        try:
            await autoscale_once(memo.runtime, projection, history, log)
        except Exception as exc:  # one bad round must not end the loop: say it, poll again
            await errors.failed(projection, exc)
        else:
            await errors.succeeded(projection)
        await asyncio.sleep(poll_interval(projection["spec"]))


@kopf.on.event(GROUP, VERSION, "projectionreplays")
async def replay_event(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    """One replay loop per unfinished ProjectionReplay; a deletion cancels it.

    Not a kopf daemon or deletion handler: those put kopf's finalizer on every replay,
    finished ones included, and a namespace deleted with its operator would then hang. The
    replay puts its own finalizer on itself only while it holds a projection.
    """
    body = event["object"]
    meta = body["metadata"]
    key = (meta["namespace"], meta["name"])
    tasks: dict[Key, asyncio.Task[None]] = memo.replays
    if event["type"] == "DELETED" or meta.get("deletionTimestamp"):
        task = tasks.pop(key, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if event["type"] != "DELETED" and REPLAY_FINALIZER in (meta.get("finalizers") or []):
            await _cancel(dict(body), memo)
        return
    task = tasks.get(key)
    if not phase_of(dict(body)).finished and (task is None or task.done()):
        tasks[key] = asyncio.create_task(_replay(key, memo))


async def _replay(key: Key, memo: Any) -> None:
    runtime: Runtime = memo.runtime
    log = logging.LoggerAdapter(_replay_log, {"replay": "/".join(key)})
    errors = RoundErrors(runtime, "ProjectionReplay", log, ErrorMemory())
    while True:
        current = await runtime.kube.get("ProjectionReplay", *key)
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        try:
            finished = await replayer.step(runtime, log, current)
        except Exception as exc:
            await errors.failed(current, exc)
            finished = False
        else:
            await errors.succeeded(current)
        if finished:
            return
        await asyncio.sleep(runtime.settings.replay_poll_seconds)


async def _cancel(replay: dict[str, Any], memo: Any) -> None:
    """Release the projection, then the replay's finalizer; retried until it works."""
    log = logging.LoggerAdapter(_replay_log, {"replay": replay["metadata"]["name"]})
    for attempt in range(30):
        try:
            await cancel(memo.runtime, log, replay)
            await memo.runtime.kube.remove_finalizer(
                "ProjectionReplay", replay["metadata"]["namespace"], replay["metadata"]["name"]
            )
            return
        except Exception:
            log.exception("cancelling the replay failed (attempt %d); retrying", attempt + 1)
            await asyncio.sleep(2)
