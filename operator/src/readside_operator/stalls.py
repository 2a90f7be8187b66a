"""Stalled partitions (pure): a partition whose committed offset has not moved for
`stalledAfterPolls` polls while it has lag and the consumer group has live members.

Something holds it and consumes nothing: a poison record the projection retries forever, a
stuck consumer, a lost lock. More replicas do not unstick it, so its lag asks for none; it is
named in the `Stalled` condition, once in an Event, and in a metric. The count starts again
as soon as the offset moves, the lag is gone, or the group has no member (nobody is
supposed to consume then: scaled to zero, paused, between pods). A lag that holds no data
record (a transaction's commit marker after the last record: the projection commits the
offset after its last record, so one marker stays behind) is nothing to consume either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from readside_kafka import GroupLag


@dataclass(frozen=True, slots=True)
class Stall:
    partition: int
    offset: int  # where the group is stuck: the next record it should consume
    lag: int
    polls: int  # polls the committed offset has not moved


@dataclass(slots=True)
class StallMemory:
    """Per partition: the committed offset last seen and for how many polls it held."""

    seen: dict[int, tuple[int | None, int]] = field(default_factory=dict)
    announced: frozenset[int] = frozenset()  # stalled partitions already told in an Event


def track_stalls(
    memory: StallMemory,
    lag: GroupLag,
    members: int,
    after_polls: int,
    *,
    records_read: bool = False,
) -> tuple[Stall, ...]:
    """Count this poll in `memory` and return the partitions stalled now. `records_read`:
    the lag was read with the oldest unconsumed record's time, so a lagging partition
    without one holds no data record."""
    stalls = []
    seen: dict[int, tuple[int | None, int]] = {}
    for row in lag.partitions:
        before = memory.seen.get(row.partition)
        unchanged = before is not None and before[0] == row.committed
        polls = before[1] + 1 if unchanged and before is not None else 0
        markers_only = records_read and row.oldest is None
        if row.lag <= 0 or members <= 0 or markers_only:
            polls = 0
        seen[row.partition] = (row.committed, polls)
        if polls >= after_polls:
            stalls.append(Stall(row.partition, row.position, row.lag, polls))
    memory.seen = seen
    return tuple(stalls)


def newly_stalled(memory: StallMemory, stalls: tuple[Stall, ...]) -> tuple[Stall, ...]:
    """The stalls not told yet (one Event per stall; a partition that moves and stalls
    again is told again)."""
    now = frozenset(s.partition for s in stalls)
    fresh = tuple(s for s in stalls if s.partition not in memory.announced)
    memory.announced = now
    return fresh


def describe_stalls(stalls: tuple[Stall, ...], members: int) -> str:
    """The `Stalled` condition's message: which partitions, where, and what to do."""
    where = ", ".join(
        f"partition {s.partition} at offset {s.offset} (lag {s.lag}, {s.polls} polls)"
        for s in stalls
    )
    return (
        f"committed offset not moving while lagging and the group has {members} live "
        f"member(s): {where}. A poison record, a stuck consumer or a lost lock: read the "
        "projection pods' logs and /readyz for that partition (restarting the pod that holds "
        "it releases it); no replicas are added for it"
    )
