"""Lag in seconds from record timestamps, the observed drain rate, and the time rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from readside_kafka import GroupLag, PartitionLag
from readside_operator.drain import RateMemory, ages, observe_rates, time_rule

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def group(*rows: tuple[int, int], oldest: dict[int, datetime] | None = None) -> GroupLag:
    """(committed, end) per partition, with the oldest unconsumed record's time."""
    stamps = oldest or {}
    parts = tuple(PartitionLag(p, c, e, e - c, 0, stamps.get(p)) for p, (c, e) in enumerate(rows))
    return GroupLag("order-events", "projection-service", parts)


def test_lag_seconds_is_the_age_of_the_oldest_unconsumed_record_per_lagging_partition() -> None:
    seen = group(
        (10, 50),
        (7, 7),
        (3, 9),
        oldest={0: NOW - timedelta(seconds=42), 2: NOW + timedelta(seconds=3)},
    )
    # partition 1 has no lag (and no timestamp); partition 2's producer clock runs ahead: 0
    assert ages(seen, NOW) == {0: 42.0, 2: 0.0}


def test_rates_come_from_offsets_moving_between_two_polls() -> None:
    memory = RateMemory()
    observe_rates(memory, group((0, 1000), (0, 1000)), 2, 0.0, frozenset())
    assert memory.per_replica is None  # one poll is no rate
    observe_rates(memory, group((200, 1100), (200, 1100)), 2, 10.0, frozenset())
    assert memory.consumed == 40.0  # 400 records in 10 s
    assert memory.produced == 20.0  # 200 records arrived
    assert memory.per_replica == 20.0  # busy throughout, 2 replicas
    observe_rates(memory, group((600, 1200), (600, 1200)), 2, 20.0, frozenset())
    assert memory.produced == 0.5 * 20.0 + 0.5 * 20.0  # smoothed
    assert memory.consumed == 0.5 * 80.0 + 0.5 * 40.0
    assert memory.per_replica == 40.0  # the best a replica was seen to drain


def test_capacity_is_the_best_recent_drain_not_an_average_with_idle_seconds() -> None:
    memory = RateMemory()
    observe_rates(memory, group((0, 5000)), 1, 0.0, frozenset())
    observe_rates(memory, group((1000, 5000)), 1, 10.0, frozenset())  # 100/s: saturated
    observe_rates(memory, group((1100, 5100)), 1, 20.0, frozenset())  # 10/s: lag, partly idle
    assert memory.per_replica == 100.0
    observe_rates(memory, group((1200, 5200)), 1, 615.0, frozenset())  # the 100 is 10 min old
    assert memory.per_replica < 100.0


def test_an_idle_interval_says_nothing_about_capacity() -> None:
    memory = RateMemory()
    observe_rates(memory, group((0, 10), (0, 0)), 4, 0.0, frozenset())
    observe_rates(memory, group((10, 10), (0, 0)), 4, 5.0, frozenset())  # drained: idle at the end
    assert memory.consumed == 2.0
    assert memory.per_replica is None


def test_only_replicas_with_a_lagging_partition_count_as_workers() -> None:
    memory = RateMemory()
    observe_rates(memory, group((0, 500), (0, 0), (0, 0)), 3, 0.0, frozenset())
    observe_rates(memory, group((100, 500), (0, 0), (0, 0)), 3, 10.0, frozenset())
    assert memory.per_replica == 10.0  # one replica worked, not 100 / 3 each


def test_replicas_added_during_an_interval_do_not_inflate_the_capacity() -> None:
    memory = RateMemory()
    observe_rates(memory, group((0, 9000), (0, 9000)), 1, 0.0, frozenset())  # then scaled to 2
    observe_rates(memory, group((500, 9000), (500, 9000)), 2, 10.0, frozenset())
    assert memory.per_replica == 50.0  # 1,000 in 10 s by two replicas, not 100/s by one


def test_an_offset_reset_is_not_a_rate() -> None:
    memory = RateMemory()
    observe_rates(memory, group((500, 900)), 1, 0.0, frozenset())
    observe_rates(memory, group((0, 900)), 1, 5.0, frozenset())  # a replay from earliest
    assert (memory.consumed, memory.per_replica) == (None, None)


def test_the_time_rule_drains_the_backlog_within_the_target_at_the_observed_rate() -> None:
    memory = RateMemory(per_replica=10.0, produced=20.0)
    # 300 records within 10 s = 30/s, plus 20/s arriving = 50/s at 10/s each: 5 replicas
    assert time_rule(300, 120.0, 10.0, memory, 1)[0] == 5
    # no backlog, but 20/s arriving: 2 replicas to keep up (low lag under heavy load)
    assert time_rule(0, 0.0, 10.0, memory, 1)[0] == 2
    assert time_rule(0, 0.0, 10.0, RateMemory(per_replica=10.0, produced=0.0), 1)[0] == 0
    fast = RateMemory(per_replica=1000.0, produced=0.0)
    assert time_rule(300, 120.0, 10.0, fast, 1)[0] == 1  # old, but one replica drains it


def test_without_a_rate_yet_the_age_over_the_target_scales_the_replicas() -> None:
    memory = RateMemory()
    assert time_rule(50, 45.0, 10.0, memory, 2)[0] == 9  # ceil(2 x 45 / 10)
    assert time_rule(50, 45.0, 10.0, memory, 0)[0] == 5  # from zero: counted as one
    assert time_rule(50, 8.0, 10.0, memory, 2)[0] == 0  # within the target: no ask
