"""ProjectionReplay: spec validation and the phase machine, as pure functions.

The kopf handlers observe the world (Deployment replicas, consumer-group state, the reset
Job, lag) and ask `next_phase` what to do; nothing here talks to Kubernetes or Kafka.

InPlace:   Pending -> Pausing -> Resetting -> Replaying -> Succeeded
BlueGreen: Pending -> Resetting (new read-model version) -> Replaying (shadow projection)
           -> Swapping (promote, move the live projection) -> Succeeded
dryRun:    Pending -> Succeeded, with the offsets a reset would use
Any phase can end in Failed (a bad spec or a failed Job); deleting a replay cancels it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from readside_core.views import parse_time


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


class Strategy(enum.StrEnum):
    IN_PLACE = "InPlace"
    BLUE_GREEN = "BlueGreen"


class InvalidReplay(ValueError):
    """The spec cannot be carried out; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    projection: str
    strategy: Strategy
    earliest: bool = False
    timestamp: datetime | None = None
    offsets: dict[int, int] | None = None
    dry_run: bool = False

    def reset_arguments(self) -> list[str]:
        """The projection image's `reset` arguments for this spec."""
        if self.timestamp is not None:
            where = ["--timestamp", self.timestamp.isoformat()]
        elif self.offsets is not None:
            where = ["--offsets", ",".join(f"{p}:{o}" for p, o in sorted(self.offsets.items()))]
        else:
            where = ["--earliest"]
        return ["reset", *where, *(["--dry-run"] if self.dry_run else [])]


def parse_spec(spec: dict[str, Any], now: datetime | None = None) -> ReplaySpec:
    """Validate a ProjectionReplay spec beyond what the CRD schema can say."""
    projection = spec.get("projection")
    if not projection:
        raise InvalidReplay("spec.projection is required: the name of a Projection")
    try:
        strategy = Strategy(spec.get("strategy", Strategy.IN_PLACE))
    except ValueError:
        raise InvalidReplay(
            f"spec.strategy {spec.get('strategy')!r} is not one of InPlace, BlueGreen"
        ) from None
    source = spec.get("from") or {"earliest": True}
    chosen = [k for k in ("earliest", "timestamp", "offsets") if source.get(k) not in (None, False)]
    if len(chosen) != 1:
        raise InvalidReplay("spec.from needs exactly one of earliest, timestamp or offsets")
    timestamp = None
    if "timestamp" in chosen:
        timestamp = _parse_time(str(source["timestamp"]))
        if timestamp > (now or datetime.now(UTC)):
            raise InvalidReplay(f"spec.from.timestamp {source['timestamp']} is in the future")
    offsets = None
    if "offsets" in chosen:
        offsets = _parse_offsets(source["offsets"])
    return ReplaySpec(
        projection=str(projection),
        strategy=strategy,
        earliest="earliest" in chosen,
        timestamp=timestamp,
        offsets=offsets,
        dry_run=bool(spec.get("dryRun", False)),
    )


def _parse_time(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise InvalidReplay(f"spec.from.timestamp {exc}") from None


def _parse_offsets(raw: Any) -> dict[int, int]:
    items = (
        raw.items()
        if isinstance(raw, dict)
        else [(o.get("partition"), o.get("offset")) for o in raw]
    )
    offsets: dict[int, int] = {}
    for partition, offset in items:
        try:
            p, o = int(partition), int(offset)
        except (TypeError, ValueError):
            raise InvalidReplay(
                f"spec.from.offsets entry {partition!r}: {offset!r} is not partition: offset"
            ) from None
        if p < 0 or o < 0:
            raise InvalidReplay(f"spec.from.offsets {p}: {o} must not be negative")
        offsets[p] = o
    if not offsets:
        raise InvalidReplay("spec.from.offsets is empty")
    return offsets


def check_partitions(spec: ReplaySpec, partitions: set[int]) -> None:
    """Offsets for partitions the topic does not have are a spec error."""
    unknown = sorted(set(spec.offsets or {}) - partitions)
    if unknown:
        raise InvalidReplay(
            f"spec.from.offsets names partitions {unknown} the topic does not have "
            f"(it has {sorted(partitions)})"
        )


@dataclass(frozen=True, slots=True)
class Observed:
    """What the handler saw this round."""

    other_replay_active: bool = False
    replicas: int = 0  # pods the projection Deployment still runs
    wanted_replicas: int = 0  # its spec.replicas (the scale subresource)
    group_empty: bool = False  # the consumer group has no members
    reset_job: str | None = None  # None, "Running", "Succeeded", "Failed"
    lag: int | None = None  # remaining lag of the replaying group, None if unknown
    promote_job: str | None = None  # BlueGreen: the Job that makes the new version live
    live_moved: bool = False  # BlueGreen: the live projection was restarted onto it
    live_rolled_out: bool = False  # ... and all its pods run the new version


@dataclass(frozen=True, slots=True)
class Step:
    phase: Phase
    action: str | None  # what the handler must do next, or None to wait
    message: str


def next_phase(
    phase: Phase, strategy: Strategy, seen: Observed, dry_run: bool = False, caught_up: int = 0
) -> Step:
    """One transition of the replay's phase machine.

    Actions: report-offsets, scale-to-zero, run-reset-job, resume (InPlace: scale back up;
    BlueGreen: start the shadow projection), promote, move-live, restore (release the
    projection: autoscaling resumes; after a failure, its replicas come back).
    """
    if phase.finished:
        return Step(phase, None, "finished")
    if phase is Phase.PENDING:
        if dry_run:
            return Step(
                Phase.SUCCEEDED, "report-offsets", "dry run: offsets reported, nothing changed"
            )
        if seen.other_replay_active:
            return Step(phase, None, "waiting: another replay of this projection is active")
        if strategy is Strategy.BLUE_GREEN:
            return Step(Phase.RESETTING, "run-reset-job", "building a new read-model version")
        return Step(Phase.PAUSING, "scale-to-zero", "autoscaling paused, scaling to 0")
    if phase is Phase.PAUSING:
        if seen.wanted_replicas != 0:  # scaled back up meanwhile (e.g. a round begun earlier)
            return Step(phase, "scale-to-zero", "scaled up by someone else: scaling to 0 again")
        if seen.replicas == 0 and seen.group_empty:
            return Step(Phase.RESETTING, "run-reset-job", "consumer group empty: resetting")
        return Step(phase, None, "waiting for the projection pods to stop and the group to empty")
    if phase is Phase.RESETTING:
        if seen.reset_job == "Failed":
            return Step(Phase.FAILED, "restore", "the reset Job failed: see its logs")
        if seen.reset_job != "Succeeded":
            return Step(phase, None, "reset Job running")
        return Step(Phase.REPLAYING, "resume", "reset done: replaying")
    if phase is Phase.REPLAYING:
        if seen.lag is not None and seen.lag <= caught_up:
            if strategy is Strategy.BLUE_GREEN:
                return Step(Phase.SWAPPING, "promote", "the new version caught up: swapping")
            return Step(Phase.SUCCEEDED, "restore", "caught up")
        return Step(phase, None, f"replaying, lag {seen.lag}")
    if phase is Phase.SWAPPING:
        if seen.promote_job == "Failed":
            return Step(Phase.FAILED, "restore", "the promote Job failed: see its logs")
        if seen.promote_job != "Succeeded":
            return Step(phase, None, "making the new version live")
        if not seen.live_moved:
            return Step(phase, "move-live", "the query API serves the new version")
        if not seen.live_rolled_out:
            return Step(phase, None, "moving the live projection onto the new version")
        return Step(Phase.SUCCEEDED, "restore", "swapped: the new version is live")
    raise AssertionError(f"unhandled phase {phase}")


def progress(start_lag: int | None, lag: int | None) -> dict[str, int]:
    """Status progress: events replayed, lag remaining, percent."""
    if start_lag is None or lag is None:
        return {}
    done = max(start_lag - lag, 0)
    percent = 100 if start_lag == 0 else min(100, int(done * 100 / start_lag))
    return {"eventsReplayed": done, "lagRemaining": lag, "percent": percent}
