"""Stall detection: a lagging partition whose commit does not move while the group has
members; its reset when the offset moves, the lag goes or the members leave."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from readside_kafka import GroupLag, PartitionLag
from readside_operator.stalls import StallMemory, describe_stalls, newly_stalled, track_stalls

pytestmark = pytest.mark.unit


def lag(*rows: tuple[int | None, int]) -> GroupLag:
    """(committed, end) per partition."""
    parts = tuple(
        PartitionLag(p, committed, end, end - (committed or 0))
        for p, (committed, end) in enumerate(rows)
    )
    return GroupLag("order-events", "projection-service", parts)


def polls(
    memory: StallMemory, seen: list[GroupLag], members: int = 1, after: int = 3
) -> list[list[int]]:
    return [[s.partition for s in track_stalls(memory, g, members, after)] for g in seen]


def test_a_lagging_partition_that_does_not_move_for_k_polls_is_stalled() -> None:
    memory = StallMemory()
    seen = [lag((10, 50), (5, 50))] + [lag((10, 60), (5 + n, 60)) for n in range(1, 5)]
    # partition 0 sits at 10: unchanged at polls 2, 3, 4 -> stalled from the 4th poll
    assert polls(memory, seen) == [[], [], [], [0], [0]]
    stall = track_stalls(memory, lag((10, 60), (9, 60)), 2, 3)[0]
    assert (stall.partition, stall.offset, stall.lag, stall.polls) == (0, 10, 50, 5)


def test_the_count_starts_again_when_the_offset_moves() -> None:
    memory = StallMemory()
    assert polls(memory, [lag((10, 50))] * 4) == [[], [], [], [0]]
    assert polls(memory, [lag((11, 50))]) == [[]]  # it moved: cleared at once
    assert polls(memory, [lag((11, 50))] * 3) == [[], [], [0]]  # and counted from there


def test_no_lag_or_no_live_member_is_never_a_stall() -> None:
    memory = StallMemory()
    assert polls(memory, [lag((50, 50))] * 5) == [[]] * 5  # caught up: nothing to consume
    memory = StallMemory()
    assert polls(memory, [lag((10, 50))] * 5, members=0) == [[]] * 5  # scaled to zero
    # members leaving resets the count: the new ones get their own K polls
    memory = StallMemory()
    polls(memory, [lag((10, 50))] * 3)
    polls(memory, [lag((10, 50))], members=0)
    assert polls(memory, [lag((10, 50))] * 3) == [[], [], [0]]


def test_a_group_that_never_committed_but_holds_the_partition_stalls_too() -> None:
    memory = StallMemory()
    assert polls(memory, [lag((None, 30))] * 4, after=2) == [[], [], [0], [0]]


def test_each_stall_is_told_once_and_again_after_it_cleared() -> None:
    memory = StallMemory()
    stuck = [track_stalls(memory, lag((10, 50)), 1, 1) for _ in range(3)]
    told = [newly_stalled(memory, s) for s in stuck]
    assert [len(t) for t in told] == [0, 1, 0]
    assert newly_stalled(memory, ()) == ()
    again = track_stalls(memory, lag((12, 50)), 1, 1)
    again = track_stalls(memory, lag((12, 50)), 1, 1)
    assert [s.partition for s in newly_stalled(memory, again)] == [0]


def test_the_message_names_partitions_offsets_and_what_to_do() -> None:
    memory = StallMemory()
    for _ in range(3):
        stalls = track_stalls(memory, lag((10, 50), (70, 70), (3, 9)), 2, 2)
    text = describe_stalls(stalls, 2)
    assert "partition 0 at offset 10 (lag 40, 2 polls)" in text
    assert "partition 2 at offset 3 (lag 6, 2 polls)" in text
    assert "partition 1" not in text
    assert "2 live member(s)" in text
    assert "logs" in text
    assert "no replicas are added" in text


def test_a_lag_of_transaction_markers_only_is_not_a_stall() -> None:
    """read_committed consumers commit after their last record: the commit marker stays."""
    marker = GroupLag("order-events", "g", (PartitionLag(0, 41, 42, 1, 0, None),))
    memory = StallMemory()
    seen = [track_stalls(memory, marker, 2, 2, records_read=True) for _ in range(5)]
    assert seen == [()] * 5
    stamped = GroupLag("order-events", "g", (PartitionLag(0, 41, 42, 1, 0, datetime.now(UTC)),))
    seen = [track_stalls(memory, stamped, 2, 2, records_read=True) for _ in range(3)]
    assert [len(s) for s in seen] == [0, 1, 1]  # a data record waiting: counted
