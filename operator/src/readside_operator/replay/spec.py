"""A ProjectionReplay's spec, validated beyond what the CRD schema can say (pure)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from readside_core.admin_commands import Reset
from readside_core.views import parse_time
from readside_kafka import ResetTarget


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

    def reset_command(self) -> Reset:
        """The projection image's `reset` for this spec."""
        return Reset(
            earliest=self.earliest,
            timestamp=self.timestamp,
            offsets=self.offsets,
            dry_run=self.dry_run,
        )

    def reset_arguments(self) -> list[str]:
        return self.reset_command().argv()

    def reset_target(self) -> ResetTarget:
        """Where a reset restarts, as the Kafka look-ups take it."""
        return ResetTarget(earliest=self.earliest, timestamp=self.timestamp, offsets=self.offsets)


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
