"""kopf registrations: one daemon per Projection (autoscaling), one per ProjectionReplay.

Daemons, not timers: each Projection polls at its own spec.autoscaling.pollIntervalSeconds
and keeps its stabilization history in memory; each replay loops until it has finished. A
replay's deletion handler (kopf's finalizer) releases the projection first.
"""

from __future__ import annotations

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


@kopf.on.cleanup()
async def close(memo: Any, **_: Any) -> None:
    await memo.runtime.close()


@kopf.daemon(GROUP, VERSION, "projections", cancellation_timeout=10)
async def autoscale(
    body: kopf.Body, stopped: kopf.DaemonStopped, memo: Any, logger: Log, **_: Any
) -> None:
    history = ScalingHistory()
    while not stopped:
        projection = dict(body)  # a live view: the latest spec, annotations and status
        try:
            await autoscale_once(memo.runtime, projection, history, logger)
        except Exception:  # one bad round must not end the daemon: log and poll again
            logger.exception("autoscaling round failed; retrying at the next poll")
        await stopped.wait(poll_interval(projection["spec"]))


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
