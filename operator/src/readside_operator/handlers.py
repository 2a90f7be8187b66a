"""kopf registrations: an autoscaling loop per Projection, a daemon per ProjectionReplay.

Each Projection polls at its own spec.autoscaling.pollIntervalSeconds and keeps its
stabilization history in memory; each replay loops until it has finished. A replay's
deletion handler (kopf's finalizer) releases the projection first; Projections carry no
finalizer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

from readside_core.settings import env_int
from readside_operator.autoscaler import autoscale_once, poll_interval
from readside_operator.kube import GROUP, VERSION, Kube
from readside_operator.replay import Phase
from readside_operator.replayer import Replayer
from readside_operator.runtime import Runtime
from readside_operator.scaling import ScalingHistory

FINALIZER = "readside.io/operator"
_log = logging.getLogger("readside_operator.autoscaler")
Log = logging.Logger | logging.LoggerAdapter[Any]


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
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
    port = env_int("METRICS_PORT", 9090)
    if port:
        start_http_server(port)
    memo.runtime = Runtime(Kube())
    memo.projections = {}
    memo.autoscalers = {}


@kopf.on.cleanup()
async def close(memo: Any, **_: Any) -> None:
    for task in memo.autoscalers.values():
        task.cancel()
    await asyncio.gather(*memo.autoscalers.values(), return_exceptions=True)
    await memo.runtime.close()


@kopf.on.event(GROUP, VERSION, "projections")
async def track(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    """Keep the latest body of every Projection; one autoscaling loop per Projection.

    Not a kopf daemon: daemons put a finalizer on the resource, and a Projection must stay
    deletable when the operator is gone (helm uninstall, namespace deletion).
    """
    body = event["object"]
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    projections: dict[tuple[str, str], dict[str, Any]] = memo.projections
    if event["type"] == "DELETED":
        projections.pop(key, None)
        return
    projections[key] = dict(body)
    task = memo.autoscalers.get(key)
    if task is None or task.done():
        memo.autoscalers[key] = asyncio.create_task(_autoscale(key, memo))


async def _autoscale(key: tuple[str, str], memo: Any) -> None:
    log = logging.LoggerAdapter(_log, {"projection": "/".join(key)})
    history = ScalingHistory()
    while (projection := memo.projections.get(key)) is not None:
        try:
            await autoscale_once(memo.runtime, projection, history, log)
        except Exception:  # one bad round must not end the loop: log and poll again
            log.exception("autoscaling round of %s failed; retrying at the next poll", key)
        await asyncio.sleep(poll_interval(projection["spec"]))


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return not Phase(status.get("phase", Phase.PENDING)).finished


@kopf.daemon(GROUP, VERSION, "projectionreplays", when=_unfinished, cancellation_timeout=10)
async def replay(
    body: kopf.Body, stopped: kopf.DaemonStopped, memo: Any, logger: Log, **_: Any
) -> None:
    runtime: Runtime = memo.runtime
    replayer = Replayer(runtime, logger)
    meta = body["metadata"]
    while not stopped:
        current = await runtime.kube.get("ProjectionReplay", meta["namespace"], meta["name"])
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        try:
            if await replayer.step(current):
                return
        except Exception:
            logger.exception("replay round failed; retrying")
        await stopped.wait(runtime.replay_poll_seconds)


@kopf.on.delete(GROUP, VERSION, "projectionreplays")
async def cancel(body: kopf.Body, memo: Any, logger: Log, **_: Any) -> None:
    await Replayer(memo.runtime, logger).cancel(dict(body))
