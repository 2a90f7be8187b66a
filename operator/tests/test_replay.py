"""ProjectionReplay's spec validation and phase machine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from readside_operator.replay.phases import (
    JobState,
    Observation,
    PausingSeen,
    PendingSeen,
    Phase,
    ReplayingSeen,
    ResettingSeen,
    SwappingSeen,
    next_phase,
    progress,
)
from readside_operator.replay.spec import InvalidReplay, Strategy, check_partitions, parse_spec

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_default_source_is_earliest() -> None:
    spec = parse_spec({"projection": "orders"}, NOW)
    assert spec.earliest
    assert spec.strategy is Strategy.IN_PLACE
    assert spec.reset_arguments() == ["reset", "--earliest"]


def test_offsets_and_timestamps_become_reset_arguments() -> None:
    spec = parse_spec({"projection": "p", "from": {"offsets": {"1": 5, "0": 7}}, "dryRun": True})
    assert spec.reset_arguments() == ["reset", "--offsets", "0:7,1:5", "--dry-run"]
    spec = parse_spec({"projection": "p", "from": {"timestamp": "2025-03-01T09:00:00Z"}}, NOW)
    assert spec.reset_arguments() == ["reset", "--timestamp", "2025-03-01T09:00:00+00:00"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.projection is required"),
        ({"projection": "p", "strategy": "Sideways"}, "not one of InPlace, BlueGreen"),
        ({"projection": "p", "from": {"earliest": True, "timestamp": "x"}}, "exactly one"),
        ({"projection": "p", "from": {"timestamp": "yesterday"}}, "not an RFC 3339"),
        ({"projection": "p", "from": {"timestamp": "2025-01-01T00:00:00"}}, "has no timezone"),
        ({"projection": "p", "from": {"timestamp": "2027-01-01T00:00:00Z"}}, "in the future"),
        ({"projection": "p", "from": {"offsets": {"0": -1}}}, "must not be negative"),
        ({"projection": "p", "from": {"offsets": {"a": 1}}}, "not partition: offset"),
    ],
)
def test_bad_specs_fail_with_what_to_fix(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidReplay, match=message):
        parse_spec(spec, NOW)


def test_offsets_for_partitions_the_topic_lacks_are_rejected() -> None:
    spec = parse_spec({"projection": "p", "from": {"offsets": [{"partition": 9, "offset": 1}]}})
    with pytest.raises(InvalidReplay, match=r"partitions \[9\]"):
        check_partitions(spec, {0, 1, 2, 3})


def _walk(
    strategy: Strategy, observations: list[Observation], dry_run: bool = False
) -> list[Phase]:
    phase, phases = Phase.PENDING, []
    for seen in observations:
        phase = next_phase(phase, strategy, seen, dry_run).phase
        phases.append(phase)
    return phases


def test_in_place_pauses_resets_replays_and_succeeds() -> None:
    phases = _walk(
        Strategy.IN_PLACE,
        [
            PendingSeen(other_replay_active=True),
            PendingSeen(),
            PausingSeen(replicas=0, group_empty=False),
            PausingSeen(replicas=0, group_empty=True),
            ResettingSeen(reset_job=JobState.RUNNING),
            ResettingSeen(reset_job=JobState.SUCCEEDED),
            ReplayingSeen(lag=500),
            ReplayingSeen(lag=0),
        ],
    )
    assert phases == [
        Phase.PENDING,
        Phase.PAUSING,
        Phase.PAUSING,
        Phase.RESETTING,
        Phase.RESETTING,
        Phase.REPLAYING,
        Phase.REPLAYING,
        Phase.SUCCEEDED,
    ]


def test_blue_green_swaps_before_succeeding() -> None:
    phases = _walk(
        Strategy.BLUE_GREEN,
        [
            PendingSeen(),
            ResettingSeen(reset_job=JobState.SUCCEEDED),
            ReplayingSeen(lag=0),
            SwappingSeen(promote_job=JobState.RUNNING),
            SwappingSeen(promote_job=JobState.SUCCEEDED),
            SwappingSeen(promote_job=JobState.SUCCEEDED, live_moved=True),
            SwappingSeen(promote_job=JobState.SUCCEEDED, live_moved=True, live_rolled_out=True),
        ],
    )
    assert phases == [
        Phase.RESETTING,
        Phase.REPLAYING,
        Phase.SWAPPING,
        Phase.SWAPPING,
        Phase.SWAPPING,
        Phase.SWAPPING,
        Phase.SUCCEEDED,
    ]
    moving = SwappingSeen(promote_job=JobState.SUCCEEDED)
    assert next_phase(Phase.SWAPPING, Strategy.BLUE_GREEN, moving).action == "move-live"


def test_a_failed_promotion_fails_the_replay() -> None:
    step = next_phase(
        Phase.SWAPPING, Strategy.BLUE_GREEN, SwappingSeen(promote_job=JobState.FAILED)
    )
    assert (step.phase, step.action) == (Phase.FAILED, "restore")


def test_replaying_ends_at_the_catch_up_threshold() -> None:
    seen = ReplayingSeen(lag=40)
    assert next_phase(Phase.REPLAYING, Strategy.IN_PLACE, seen).phase is Phase.REPLAYING
    assert next_phase(Phase.REPLAYING, Strategy.IN_PLACE, seen, caught_up=50).phase is (
        Phase.SUCCEEDED
    )


def test_a_failed_reset_job_fails_the_replay_and_restores_the_projection() -> None:
    step = next_phase(Phase.RESETTING, Strategy.IN_PLACE, ResettingSeen(reset_job=JobState.FAILED))
    assert step.phase is Phase.FAILED
    assert step.action == "restore"


def test_dry_run_reports_offsets_and_succeeds_without_waiting_for_the_lock() -> None:
    step = next_phase(Phase.PENDING, Strategy.IN_PLACE, PendingSeen(other_replay_active=True), True)
    assert (step.phase, step.action) == (Phase.SUCCEEDED, "report-offsets")


def test_progress_counts_replayed_events_and_percent() -> None:
    assert progress(1000, 250) == {"eventsReplayed": 750, "lagRemaining": 250, "percent": 75}
    assert progress(0, 0)["percent"] == 100
    assert progress(None, 5) == {}


def test_pausing_scales_to_zero_again_when_something_scaled_the_projection_back_up() -> None:
    seen = PausingSeen(wanted_replicas=1, replicas=1, group_empty=False)
    step = next_phase(Phase.PAUSING, Strategy.IN_PLACE, seen)
    assert (step.phase, step.action) == (Phase.PAUSING, "scale-to-zero")
    settled = PausingSeen(wanted_replicas=0, replicas=0, group_empty=True)
    assert next_phase(Phase.PAUSING, Strategy.IN_PLACE, settled).phase is Phase.RESETTING
