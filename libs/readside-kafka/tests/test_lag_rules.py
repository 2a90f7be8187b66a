"""The position and lag rules of readside_kafka.lag (pure)."""

from __future__ import annotations

import pytest

from readside_kafka.lag import consumer_position, partition_lag

pytestmark = pytest.mark.unit


def test_a_group_without_a_commit_starts_at_the_log_start_not_zero() -> None:
    assert consumer_position(None, 40) == 40
    assert partition_lag(None, 40, 100) == 60


def test_a_commit_below_the_log_start_counts_from_the_log_start() -> None:
    assert consumer_position(10, 40) == 40
    assert partition_lag(10, 40, 100) == 60  # not 90: 30 records were deleted by retention


def test_a_commit_above_the_log_start_counts_from_the_commit() -> None:
    assert partition_lag(70, 40, 100) == 30
    assert partition_lag(100, 40, 100) == 0


def test_lag_is_never_negative() -> None:
    assert partition_lag(120, 40, 100) == 0  # a commit past the end (a truncated log)
