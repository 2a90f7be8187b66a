"""Rates the operator observes between two polls, and the time rule they feed (pure).

Between two polls the group's positions advance by what it consumed and the end offsets by
what was produced (both smoothed: half the new sample, half the old). What one replica can
drain is only learned while the replicas had lag before and after and made progress, and
even then an interval may have been partly idle (lag at both polls says little about the
seconds between), so a replica's capacity is the best it was seen to drain over the last
CAPACITY_WINDOW_SECONDS, not an average that idle seconds would drag down. The memory is in
the operator's process: after a restart the time rule falls back to the age alone until a
busy interval has been seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from readside_kafka import GroupLag

SMOOTHING = 0.5
CAPACITY_WINDOW_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Sample:
    clock: float
    positions: dict[int, int]
    ends: dict[int, int]
    replicas: int
    lagging: int  # partitions with lag (not stalled) at that poll


@dataclass(slots=True)
class RateMemory:
    last: Sample | None = None
    per_replica: float | None = None  # records/s one busy replica drains (best recent)
    consumed: float | None = None  # records/s the group consumed
    produced: float | None = None  # records/s arriving
    drains: list[tuple[float, float]] = field(default_factory=list)  # (clock, per replica)
    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (clock, records/s)
    receiving: frozenset[int] = frozenset()  # partitions whose end offset moved last interval


def _smooth(old: float | None, new: float) -> float:
    return new if old is None else SMOOTHING * new + (1 - SMOOTHING) * old


def observe_rates(
    memory: RateMemory, lag: GroupLag, replicas: int, clock: float, stalled: frozenset[int]
) -> None:
    """Fold this poll into `memory` (rates from the previous poll to this one); `replicas`
    are the consumers now (they drain the next interval, over at most the lagging
    partitions)."""
    lagging = sum(1 for p in lag.partitions if p.lag > 0 and p.partition not in stalled)
    now = Sample(
        clock,
        {p.partition: p.position for p in lag.partitions},
        {p.partition: p.end for p in lag.partitions},
        replicas,
        lagging,
    )
    before, memory.last = memory.last, now
    if before is None or now.clock <= before.clock:
        return
    shared = before.positions.keys() & now.positions.keys()
    moved = [now.positions[p] - before.positions[p] for p in shared]
    grown = {p: now.ends[p] - before.ends[p] for p in shared}
    if any(m < 0 for m in moved) or any(g < 0 for g in grown.values()):
        return  # offsets reset (a replay) or the topic recreated: not a rate
    seconds = now.clock - before.clock
    _record_arrivals(memory, grown, seconds, now.clock)
    memory.consumed = _smooth(memory.consumed, sum(moved) / seconds)
    busy = before.lagging > 0 and lagging > 0 and before.replicas > 0 and sum(moved) > 0
    if busy:
        # Consumers that joined during the interval did part of its work: dividing by the
        # larger count errs towards a lower capacity, that is towards more replicas.
        workers = min(max(before.replicas, now.replicas), max(before.lagging, lagging))
        memory.drains.append((now.clock, sum(moved) / seconds / workers))
    memory.drains = [(t, r) for t, r in memory.drains if now.clock - t < CAPACITY_WINDOW_SECONDS]
    if memory.drains:
        memory.per_replica = max(r for _, r in memory.drains)


def _record_arrivals(
    memory: RateMemory, grown: dict[int, int], seconds: float, clock: float
) -> None:
    """What arrived over the interval: the smoothed rate for the time rule, the raw one per
    interval for the scale-down floor (`arrivals`), and which partitions received records."""
    rate = sum(grown.values()) / seconds
    memory.produced = _smooth(memory.produced, rate)
    memory.arrivals = [(t, r) for t, r in memory.arrivals if clock - t < CAPACITY_WINDOW_SECONDS]
    memory.arrivals.append((clock, rate))
    memory.receiving = frozenset(p for p, g in grown.items() if g > 0)


def ages(lag: GroupLag, now: datetime) -> dict[int, float]:
    """Seconds since the oldest unconsumed record of each lagging partition was written
    (never negative: a producer clock ahead of ours)."""
    return {
        p.partition: max((now - p.oldest).total_seconds(), 0.0)
        for p in lag.partitions
        if p.lag > 0 and p.oldest is not None
    }


def time_rule(
    backlog: int, oldest: float, target: float, memory: RateMemory, current: int
) -> tuple[int, str]:
    """Replicas that drain `backlog` records within `target` seconds while keeping up with
    what arrives (even with no backlog: low lag under heavy load still needs them), at the
    drain rate observed per replica. Before any busy interval has been seen: the replicas
    scaled by how far the oldest record is past the target."""
    if memory.per_replica:
        needed = (memory.produced or 0.0) + backlog / target
        wanted = math.ceil(needed / memory.per_replica)
        return wanted, (
            f"drain {backlog} within {target:.0f}s plus {memory.produced or 0:.0f}/s arriving, "
            f"at {memory.per_replica:.0f}/s per replica -> {wanted}"
        )
    if backlog <= 0:
        return 0, "no lag"
    if oldest <= target:
        return 0, f"oldest record {oldest:.0f}s old, within {target:.0f}s"
    wanted = math.ceil(max(current, 1) * oldest / target)
    return wanted, (
        f"oldest record {oldest:.0f}s old / targetLagSeconds {target:.0f} x "
        f"{max(current, 1)} replicas (no drain rate observed yet) -> {wanted}"
    )
