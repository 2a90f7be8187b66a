"""The replay's phase machine: what was observed this round in, the next phase and the one
Action to carry out out. Pure: nothing here talks to Kubernetes or Kafka.

InPlace:   Pending -> Pausing -> Resetting -> Replaying -> Succeeded
BlueGreen: Pending -> Resetting (new read-model version) -> Replaying (shadow projection)
           -> Swapping (promote, move the live projection) -> Succeeded
dryRun:    Pending -> Succeeded, with the offsets a reset would use
Any phase can end in Failed (a bad spec or a failed Job); deleting a replay cancels it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from readside_operator.replay.spec import Strategy


class Phase(enum.StrEnum):
    PENDING = "Pending"
    PAUSING = "Pausing"
    RESETTING = "Resetting"
    REPLAYING = "Replaying"
    SWAPPING = "Swapping"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED)


class Action(enum.StrEnum):
    """What the operator does this round (at most one thing)."""

    REPORT_OFFSETS = "report-offsets"  # dry run: the offsets a reset would use
    SCALE_TO_ZERO = "scale-to-zero"
    RUN_RESET_JOB = "run-reset-job"
    RESUME = "resume"  # InPlace: scale back up; BlueGreen: start the shadow projection
    PROMOTE = "promote"  # run the promote Job
    MOVE_LIVE = "move-live"  # restart the live projection onto the new version
    RESTORE = "restore"  # release the projection (after a failure, its replicas come back)


class JobState(enum.StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class PendingSeen:
    other_replay_active: bool = False


@dataclass(frozen=True, slots=True)
class PausingSeen:
    wanted_replicas: int = 0  # the projection Deployment's spec.replicas (scale subresource)
    replicas: int = 0  # pods it still runs
    group_empty: bool = False  # the consumer group has no members


@dataclass(frozen=True, slots=True)
class ResettingSeen:
    reset_job: JobState | None = None  # None: not created yet


@dataclass(frozen=True, slots=True)
class ReplayingSeen:
    lag: int | None = None  # remaining lag of the replaying group, None if unknown


@dataclass(frozen=True, slots=True)
class SwappingSeen:
    promote_job: JobState | None = None  # None: not created yet
    live_moved: bool = False  # the live projection was restarted onto the new version
    live_rolled_out: bool = False  # ... and all its pods run it


Observation = PendingSeen | PausingSeen | ResettingSeen | ReplayingSeen | SwappingSeen


@dataclass(frozen=True, slots=True)
class Step:
    phase: Phase
    action: Action | None  # what the operator must do next, or None to wait
    message: str


def next_phase(
    phase: Phase,
    strategy: Strategy,
    seen: Observation,
    dry_run: bool = False,
    caught_up: int = 0,
) -> Step:
    """One transition; `seen` is the observation of the current phase."""
    if phase.finished:
        return Step(phase, None, "finished")
    if phase is Phase.PENDING and isinstance(seen, PendingSeen):
        return _pending(strategy, seen, dry_run)
    if phase is Phase.PAUSING and isinstance(seen, PausingSeen):
        return _pausing(seen)
    if phase is Phase.RESETTING and isinstance(seen, ResettingSeen):
        return _resetting(seen)
    if phase is Phase.REPLAYING and isinstance(seen, ReplayingSeen):
        return _replaying(strategy, seen, caught_up)
    if phase is Phase.SWAPPING and isinstance(seen, SwappingSeen):
        return _swapping(seen)
    raise TypeError(f"a {phase} replay cannot be decided on a {type(seen).__name__}")


def _pending(strategy: Strategy, seen: PendingSeen, dry_run: bool) -> Step:
    if dry_run:
        message = "dry run: offsets reported, nothing changed"
        return Step(Phase.SUCCEEDED, Action.REPORT_OFFSETS, message)
    if seen.other_replay_active:
        return Step(Phase.PENDING, None, "waiting: another replay of this projection is active")
    if strategy is Strategy.BLUE_GREEN:
        return Step(Phase.RESETTING, Action.RUN_RESET_JOB, "building a new read-model version")
    return Step(Phase.PAUSING, Action.SCALE_TO_ZERO, "autoscaling paused, scaling to 0")


def _pausing(seen: PausingSeen) -> Step:
    if seen.wanted_replicas != 0:  # scaled back up meanwhile (e.g. a round begun earlier)
        message = "scaled up by someone else: scaling to 0 again"
        return Step(Phase.PAUSING, Action.SCALE_TO_ZERO, message)
    if seen.replicas == 0 and seen.group_empty:
        return Step(Phase.RESETTING, Action.RUN_RESET_JOB, "consumer group empty: resetting")
    message = "waiting for the projection pods to stop and the group to empty"
    return Step(Phase.PAUSING, None, message)


def _job_not_done(
    job: JobState | None, phase: Phase, create: Action, name: str, running: str
) -> Step | None:
    """The step while a phase's Job is missing, running or failed; None once it succeeded."""
    if job is None:  # the operator stopped between the phase change and the create
        return Step(phase, create, running)
    if job == JobState.FAILED:
        return Step(Phase.FAILED, Action.RESTORE, f"the {name} Job failed: see its logs")
    if job != JobState.SUCCEEDED:
        return Step(phase, None, running)
    return None


def _resetting(seen: ResettingSeen) -> Step:
    running = "reset Job running"
    waiting = _job_not_done(seen.reset_job, Phase.RESETTING, Action.RUN_RESET_JOB, "reset", running)
    return waiting or Step(Phase.REPLAYING, Action.RESUME, "reset done: replaying")


def _replaying(strategy: Strategy, seen: ReplayingSeen, caught_up: int) -> Step:
    if seen.lag is not None and seen.lag <= caught_up:
        if strategy is Strategy.BLUE_GREEN:
            message = "the new version caught up: swapping"
            return Step(Phase.SWAPPING, Action.PROMOTE, message)
        return Step(Phase.SUCCEEDED, Action.RESTORE, "caught up")
    return Step(Phase.REPLAYING, None, f"replaying, lag {seen.lag}")


def _swapping(seen: SwappingSeen) -> Step:
    running = "making the new version live"
    waiting = _job_not_done(seen.promote_job, Phase.SWAPPING, Action.PROMOTE, "promote", running)
    if waiting is not None:
        return waiting
    if not seen.live_moved:
        return Step(Phase.SWAPPING, Action.MOVE_LIVE, "the query API serves the new version")
    if not seen.live_rolled_out:
        return Step(Phase.SWAPPING, None, "moving the live projection onto the new version")
    return Step(Phase.SUCCEEDED, Action.RESTORE, "swapped: the new version is live")


def progress(start_lag: int | None, lag: int | None) -> dict[str, int]:
    """Status progress: events replayed, lag remaining, percent."""
    if start_lag is None or lag is None:
        return {}
    done = max(start_lag - lag, 0)
    percent = 100 if start_lag == 0 else min(100, int(done * 100 / start_lag))
    return {"eventsReplayed": done, "lagRemaining": lag, "percent": percent}
