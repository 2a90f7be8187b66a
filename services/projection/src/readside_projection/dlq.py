"""Dead letters as data: what a record of `<topic>.dlq` says, which ones a redrive selects,
and the redrive's progress. Pure; dlq_admin.py reads and writes Kafka.

A dead letter is the original record (key, value, headers) plus the headers the projection
added (dead_letters.py): `dlq.error`, `dlq.original.topic|partition|offset|timestamp`. A
redrive sends the original back with its own headers and `dlq.redriven.from` naming the dead
letter (`<dlq topic>:<partition>:<offset>`); the `dlq.*` headers of the dead letter are not
sent (if it fails again, the projection adds fresh ones, and `dlq.redriven.from` shows the
history).

Progress: per DLQ partition, the offset below which every dead letter was redriven (the
committed offset of the progress group, so `kafka-consumer-groups --describe` shows what is
left as lag), plus the offsets above it redriven by a narrower selection, as ranges in the
commit's metadata. A dead letter redriven once is never sent again by a later redrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from readside_core.views import format_time

HEADER_ERROR = "dlq.error"
HEADER_TOPIC = "dlq.original.topic"
HEADER_PARTITION = "dlq.original.partition"
HEADER_OFFSET = "dlq.original.offset"
HEADER_TIMESTAMP = "dlq.original.timestamp"
HEADER_REDRIVEN_FROM = "dlq.redriven.from"
PROGRESS_PREFIX = "redriven:"
MAX_METADATA = 4000  # brokers refuse commit metadata over offset.metadata.max.bytes (4096)


class DlqRefused(ValueError):
    """A selection or a progress state the command cannot work with; says what to change."""


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    dlq_partition: int
    dlq_offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    time: datetime  # when it was dead-lettered (the DLQ record's timestamp)
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    error: str
    original_time: datetime | None = None  # the original record's timestamp, when recorded
    redriven: bool = False

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith("dlq.")]

    def redrive_headers(self, dlq_topic: str) -> list[tuple[str, bytes]]:
        source = f"{dlq_topic}:{self.dlq_partition}:{self.dlq_offset}".encode()
        return [*self.original_headers, (HEADER_REDRIVEN_FROM, source)]


def _int(value: bytes | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def entry_from_record(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]],
    timestamp_ms: int,
    default_topic: str,
) -> DeadLetterEntry:
    """A DLQ record as an entry; a record without the projection's headers still lists."""
    kept = tuple(headers)
    named = dict(kept)
    return DeadLetterEntry(
        dlq_partition=partition,
        dlq_offset=offset,
        key=key,
        value=value,
        headers=kept,
        time=datetime.fromtimestamp(timestamp_ms / 1000, UTC),
        original_topic=named.get(HEADER_TOPIC, default_topic.encode()).decode(errors="replace"),
        original_partition=_int(named.get(HEADER_PARTITION)),
        original_offset=_int(named.get(HEADER_OFFSET)),
        error=named.get(HEADER_ERROR, b"(no dlq.error header)").decode(errors="replace"),
        original_time=_time(_int(named.get(HEADER_TIMESTAMP))),
    )


def _time(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters: every one (`everything`), or those matching every filter given."""

    everything: bool = False
    originals: frozenset[tuple[int, int]] | None = None  # (original partition, offset)
    error: str | None = None  # a case-insensitive substring of dlq.error
    since: datetime | None = None  # dead-lettered at or after
    until: datetime | None = None  # dead-lettered before

    @property
    def filtered(self) -> bool:
        return any(x is not None for x in (self.originals, self.error, self.since, self.until))

    def matches(self, entry: DeadLetterEntry) -> bool:
        if self.originals is not None and (
            (entry.original_partition, entry.original_offset) not in self.originals
        ):
            return False
        if self.error is not None and self.error.lower() not in entry.error.lower():
            return False
        if self.since is not None and entry.time < self.since:
            return False
        return self.until is None or entry.time < self.until


def parse_originals(text: str) -> frozenset[tuple[int, int]]:
    """`0:5,0:7-9,1:3` -> {(0, 5), (0, 7), (0, 8), (0, 9), (1, 3)}."""
    chosen: set[tuple[int, int]] = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        partition, sep, offsets = item.partition(":")
        first, dash, last = offsets.partition("-")
        numbers = [partition, first, *([last] if dash else [])]
        if not sep or not all(n.isdigit() for n in numbers):
            raise DlqRefused(f"{item!r} is not PARTITION:OFFSET or PARTITION:FIRST-LAST")
        low, high = int(first), int(last) if dash else int(first)
        if high < low or high - low > 100_000:
            raise DlqRefused(f"{item!r}: the range is empty or longer than 100000")
        chosen.update((int(partition), o) for o in range(low, high + 1))
    if not chosen:
        raise DlqRefused("no original offsets given: PARTITION:OFFSET[,PARTITION:OFFSET...]")
    return frozenset(chosen)


@dataclass(slots=True)
class PartitionProgress:
    """Every dead letter below `below` is redriven; so are those in `done` (all >= below)."""

    below: int = 0
    done: set[int] = field(default_factory=set)

    def is_redriven(self, offset: int) -> bool:
        return offset < self.below or offset in self.done

    def mark(self, offsets: Iterable[int], log_start: int) -> None:
        """Record these as redriven; what the log no longer holds counts as done."""
        self.done.update(offsets)
        self.below = max(self.below, log_start)
        while self.below in self.done:
            self.below += 1
        self.done = {o for o in self.done if o >= self.below}

    def metadata(self) -> str:
        text = PROGRESS_PREFIX + ",".join(
            f"{a}" if a == b else f"{a}-{b}" for a, b in _ranges(sorted(self.done))
        )
        if len(text) > MAX_METADATA:
            raise DlqRefused(
                "the redriven dead letters are too scattered to record (more than the broker's "
                "offset metadata takes): redrive the earlier ones (for example --all) first"
            )
        return text

    @classmethod
    def parse(cls, offset: int | None, metadata: str | None) -> PartitionProgress:
        progress = cls(below=max(offset or 0, 0))
        body = (metadata or "").removeprefix(PROGRESS_PREFIX)
        for item in filter(None, body.split(",")):
            first, _, last = item.partition("-")
            progress.done.update(range(int(first), int(last or first) + 1))
        return progress


def _ranges(offsets: list[int]) -> list[tuple[int, int]]:
    ranges: list[list[int]] = []
    for offset in offsets:
        if ranges and offset == ranges[-1][1] + 1:
            ranges[-1][1] = offset
        else:
            ranges.append([offset, offset])
    return [(first, last) for first, last in ranges]


def depth(
    log_start: dict[int, int], log_end: dict[int, int], progress: dict[int, PartitionProgress]
) -> int:
    """Dead letters in the topic that no redrive has sent back yet."""
    left = 0
    for partition, end in log_end.items():
        done = progress.get(partition, PartitionProgress())
        start = max(log_start.get(partition, 0), done.below)
        left += max(end - start, 0) - sum(1 for o in done.done if start <= o < end)
    return left


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


def entry_to_json(entry: DeadLetterEntry) -> dict[str, Any]:
    return {
        "dlq": {"partition": entry.dlq_partition, "offset": entry.dlq_offset},
        "topic": entry.original_topic,
        "partition": entry.original_partition,
        "offset": entry.original_offset,
        "key": _text(entry.key),
        "error": entry.error,
        "time": format_time(entry.time),
        "original_time": None if entry.original_time is None else format_time(entry.original_time),
        "redriven": entry.redriven,
    }
