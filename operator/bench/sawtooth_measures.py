"""What `make bench-autoscaling` measures from its one-a-second timeline (pure): the
simulated projection's offsets and the records' ages, bursts and their scale-ups, reversals,
and the CSV trace."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

PARTITIONS = 6


@dataclass
class Tick:
    elapsed: float
    replicas: int
    lag: int
    lag_seconds: float  # measured here: age of the oldest record not yet committed
    reported_seconds: float  # the operator's status.lag.seconds
    load: float  # the machine's 1-minute load average


def oldest_age(
    written: dict[int, list[tuple[int, float]]], committed: dict[int, int], now: float
) -> float:
    """Seconds since the oldest uncommitted record was produced: per partition, the first
    tick whose end offset passed the committed one wrote it (to within one tick)."""
    ages = [0.0]
    for partition, marks in written.items():
        for end, at in marks:
            if end > committed[partition]:
                ages.append(now - at)
                break
    return max(ages)


@dataclass
class Sim:
    """The simulated projection's view of the topic: committed offsets, and when each end
    offset was reached (per partition) for the records' ages."""

    committed: dict[int, int]
    written: dict[int, list[tuple[int, float]]]

    def consume(self, end: dict[int, int], budget: int, tick: float) -> int:
        """Commit up to `budget` records per partition; the lag left."""
        for p, reached in end.items():
            self.written[p] = [m for m in self.written[p] if m[0] > self.committed[p]]
            self.written[p].append((reached, tick))
            self.committed[p] = min(reached, self.committed[p] + budget)
        return sum(end[p] - self.committed[p] for p in end)


def scale_up_delays(timeline: list[Tick], lag_per_replica: int, target: float) -> list[float]:
    """From the first second of a burst (the lag asked for more replicas than ran: more than
    replicas x lagPerReplica records, or, with targetLagSeconds, records older than it) to
    the next scale-up."""

    def behind(now: Tick) -> bool:
        return now.lag > now.replicas * lag_per_replica or bool(target and now.lag_seconds > target)

    return _until_scale_up(timeline, behind)


def _until_scale_up(timeline: list[Tick], wanting: Callable[[Tick], bool]) -> list[float]:
    """Seconds from each first tick that `wanting` more replicas (below the partition cap) to
    the next scale-up."""
    delays: list[float] = []
    since: float | None = None
    for before, now in pairwise(timeline):
        if now.replicas > before.replicas and since is not None:
            delays.append(now.elapsed - since)
            since = None
        if since is None and now.replicas < PARTITIONS and wanting(now):
            since = now.elapsed
    return delays


def reversals(changes: list[tuple[float, int]], start: int, window: float) -> tuple[int, int]:
    """(scalings undone within the window: in then out again, or out then in, less than
    `window` seconds apart; the count this bench printed before, which needed the change
    before those two inside the window as well and so missed a reversal after a long hold)."""
    points = [(-window, start), *changes]
    steps = [(t, r - p) for (_, p), (t, r) in pairwise(points)]
    undone = sum(1 for (t1, d1), (t2, d2) in pairwise(steps) if d1 * d2 < 0 and t2 - t1 < window)
    former = sum(
        1
        for (t1, r1), (_t2, r2), (t3, r3) in zip(changes, changes[1:], changes[2:], strict=False)
        if (r2 - r1) * (r3 - r2) < 0 and t3 - t1 < window
    )
    return undone, former


def overload_delays(
    timeline: list[Tick], peak: float, period: float, per_replica: float
) -> list[float]:
    """From the first second the tooth's rate outgrew what the replicas drain (more than
    replicas x per_replica events/s arriving) to the next scale-up: how long a rising load
    waits for its replica, lag or no lag yet."""

    def overloaded(now: Tick) -> bool:
        return peak * ((now.elapsed % period) / period) > now.replicas * per_replica

    return _until_scale_up(timeline, overloaded)


def burst_summary(delays: list[float]) -> str:
    if not delays:
        return "never"
    return f"{len(delays)} times, median {statistics.median(delays):.1f}s, max {max(delays):.1f}s"


def write_trace(path: Path, timeline: list[Tick]) -> None:
    """One line a second: what the bench saw, to read a run's decisions against."""
    lines = ["elapsed,replicas,lag,lag_seconds,reported_seconds,load"]
    lines += [
        f"{t.elapsed:.1f},{t.replicas},{t.lag},{t.lag_seconds:.1f},{t.reported_seconds:.1f},"
        f"{t.load:.2f}"
        for t in timeline
    ]
    path.write_text("\n".join(lines) + "\n")
    print(f"trace: {path}")
