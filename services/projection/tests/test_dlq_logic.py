"""Dead letters as data: headers, selections, redrive progress and the depth it implies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from readside_projection.dlq import (
    HEADER_REDRIVEN_FROM,
    DeadLetterEntry,
    DlqRefused,
    PartitionProgress,
    Selection,
    depth,
    entry_from_record,
    entry_to_json,
    parse_originals,
)

pytestmark = pytest.mark.unit
AT = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def _entry(
    offset: int = 4, error: str = "OrderCreated payload: bad total_amount"
) -> DeadLetterEntry:
    headers = [
        ("traceparent", b"00-abc-def-01"),
        ("dlq.error", error.encode()),
        ("dlq.original.topic", b"order-events"),
        ("dlq.original.partition", b"2"),
        ("dlq.original.offset", str(100 + offset).encode()),
        ("dlq.original.timestamp", b"1709283600000"),
    ]
    millis = int(AT.timestamp() * 1000) + offset * 60_000
    return entry_from_record(0, offset, b"order-1", b"{}", headers, millis, "order-events")


def test_a_dead_letter_says_where_it_came_from_and_why() -> None:
    entry = _entry()
    body = entry_to_json(entry)
    assert (body["topic"], body["partition"], body["offset"]) == ("order-events", 2, 104)
    assert body["error"] == "OrderCreated payload: bad total_amount"
    assert body["key"] == "order-1"
    assert body["time"] == "2024-03-01T09:04:00.000000Z"
    assert body["original_time"] == "2024-03-01T09:00:00.000000Z"
    assert body["redriven"] is False


def test_a_redrive_sends_the_original_headers_and_where_it_came_from() -> None:
    headers = _entry().redrive_headers("order-events.dlq")
    assert headers == [
        ("traceparent", b"00-abc-def-01"),
        (HEADER_REDRIVEN_FROM, b"order-events.dlq:0:4"),
    ]


def test_a_record_without_the_projections_headers_still_lists() -> None:
    entry = entry_from_record(1, 0, None, b"x", [], 0, "order-events")
    assert (entry.original_topic, entry.original_offset) == ("order-events", None)
    assert "no dlq.error" in entry.error


def test_selections_combine_their_filters() -> None:
    entry = _entry()
    assert Selection(everything=True).matches(entry)
    assert Selection(error="TOTAL_AMOUNT").matches(entry)
    assert not Selection(error="currency").matches(entry)
    assert Selection(originals=frozenset({(2, 104)})).matches(entry)
    assert not Selection(originals=frozenset({(1, 104)})).matches(entry)
    since = datetime(2024, 3, 1, 9, 4, tzinfo=UTC)
    assert Selection(since=since).matches(entry)
    assert not Selection(until=since).matches(entry)
    assert not Selection(error="total", until=since).matches(entry)


def test_original_offsets_take_single_offsets_and_ranges() -> None:
    assert parse_originals("0:5, 0:7-9,1:3") == {(0, 5), (0, 7), (0, 8), (0, 9), (1, 3)}
    for bad in ("", "5", "0:x", "0:9-7", "a:1"):
        with pytest.raises(DlqRefused):
            parse_originals(bad)


def test_progress_moves_its_floor_over_contiguous_redrives_and_keeps_the_rest() -> None:
    progress = PartitionProgress()
    progress.mark([3, 4, 7], log_start=0)
    assert (progress.below, progress.done) == (0, {3, 4, 7})
    progress.mark([0, 1, 2], log_start=0)
    assert (progress.below, progress.done) == (5, {7})
    assert [o for o in range(9) if progress.is_redriven(o)] == [0, 1, 2, 3, 4, 7]
    assert progress.metadata() == "redriven:7"


def test_progress_survives_its_commit_metadata() -> None:
    progress = PartitionProgress(below=10, done={12, 13, 14, 20})
    assert progress.metadata() == "redriven:12-14,20"
    again = PartitionProgress.parse(10, progress.metadata())
    assert (again.below, again.done) == (10, {12, 13, 14, 20})
    assert PartitionProgress.parse(None, None) == PartitionProgress()


def test_records_gone_from_the_log_count_as_done() -> None:
    progress = PartitionProgress()
    progress.mark([12], log_start=10)
    assert (progress.below, progress.done) == (10, {12})


def test_too_scattered_progress_is_refused_before_anything_is_sent() -> None:
    progress = PartitionProgress(done=set(range(0, 6000, 2)))
    with pytest.raises(DlqRefused, match="too scattered"):
        progress.metadata()


def test_depth_counts_what_no_redrive_has_sent_back() -> None:
    progress = {0: PartitionProgress(below=5, done={7}), 1: PartitionProgress()}
    assert depth({0: 0, 1: 3}, {0: 10, 1: 8}, progress) == (10 - 5 - 1) + (8 - 3)
    assert depth({0: 0}, {0: 10}, {}) == 10
    assert depth({0: 12}, {0: 12}, {0: PartitionProgress(below=5)}) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["dlq", "redrive"],
        ["dlq", "redrive", "--all", "--error", "x"],
        ["dlq", "discard", "--dry-run"],
        ["dlq", "redrive", "--since", "yesterday"],
        ["dlq", "list", "--offsets", "0"],
    ],
)
def test_a_redrive_must_say_what_it_selects(args: list[str]) -> None:
    from readside_projection.cli import _parser
    from readside_projection.dlq_cli import selection_from_args

    with pytest.raises(DlqRefused):
        selection_from_args(_parser().parse_args(args))


def test_filters_make_one_selection() -> None:
    from readside_projection.cli import _parser
    from readside_projection.dlq_cli import selection_from_args

    args = ["dlq", "redrive", "--error", "total", "--offsets", "1:5-6", "--since", "2024-03-01Z"]
    with pytest.raises(DlqRefused, match="--since"):
        selection_from_args(_parser().parse_args(args))
    args[-1] = "2024-03-01T00:00:00Z"
    selection = selection_from_args(_parser().parse_args(args))
    assert selection.originals == {(1, 5), (1, 6)}
    assert (selection.error, selection.since) == ("total", datetime(2024, 3, 1, tzinfo=UTC))
    assert not selection.everything
