"""What a replay round tells: its status and conditions, an Event per phase change, metrics."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from readside_operator import metrics
from readside_operator.kube import post_event
from readside_operator.replay.phases import Phase, Step
from readside_operator.resources import set_condition, timestamp
from readside_operator.runtime import Runtime

Log = logging.Logger | logging.LoggerAdapter[Any]


@dataclass(frozen=True, slots=True)
class Report:
    """The phase a round leaves the replay in, why, and the status fields it sets."""

    phase: Phase
    reason: str
    message: str
    update: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, reason: str, message: str) -> Report:
        return cls(Phase.FAILED, reason, message)

    @classmethod
    def of(cls, step: Step, update: dict[str, Any]) -> Report:
        if step.phase is Phase.SUCCEEDED:
            reason = "Succeeded"
        elif step.phase is Phase.FAILED:
            reason = "JobFailed"
        else:
            reason = step.phase.value
        return cls(step.phase, reason, step.message, update)


def conditions(
    status: dict[str, Any], report: Report, generation: int | None, now: datetime
) -> list[dict[str, Any]]:
    """Progressing while it runs; Complete and Failed once it has finished."""
    phase, reason, message = report.phase, report.reason, report.message
    found = status.get("conditions")
    found = set_condition(
        found, "Progressing", not phase.finished, reason, message, generation, now
    )
    if phase.finished:
        complete = phase is Phase.SUCCEEDED
        found = set_condition(found, "Complete", complete, reason, message, generation, now)
        failed = phase is Phase.FAILED
        found = set_condition(found, "Failed", failed, reason, message, generation, now)
    return found


async def record(rt: Runtime, log: Log, replay: dict[str, Any], report: Report) -> None:
    """Write the status; an Event when the phase changes."""
    meta, status = replay["metadata"], replay.get("status") or {}
    generation = meta.get("generation")
    now = datetime.now(UTC)
    body = {
        **report.update,
        "phase": report.phase.value,
        "message": report.message,
        "observedGeneration": generation,
        "conditions": conditions(status, report, generation, now),
    }
    if report.phase.finished:
        body["completionTime"] = timestamp(now)
    await rt.kube.patch_status("ProjectionReplay", meta["namespace"], meta["name"], body)
    if status.get("phase", Phase.PENDING) != report.phase.value or not status.get("phase"):
        text = f"{report.phase.value}: {report.message}"
        log.info("replay %s/%s %s", meta["namespace"], meta["name"], text)
        if report.phase is Phase.FAILED:
            post_event(replay, report.reason, text, warning=True)
        else:
            post_event(replay, report.phase.value, text)
    export({**replay, "status": {**status, **body}}, report.phase)


def export(replay: dict[str, Any], phase: Phase) -> None:
    """The phase gauges and the failed gauge of this replay."""
    meta = replay["metadata"]
    labels = (meta["namespace"], replay["spec"].get("projection", ""), meta["name"])
    for each in Phase:
        metrics.REPLAY_PHASE.labels(*labels, each.value).set(1 if each is phase else 0)
    metrics.REPLAY_FAILED.labels(*labels).set(1 if phase is Phase.FAILED else 0)
