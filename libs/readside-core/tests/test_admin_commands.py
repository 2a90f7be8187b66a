"""The operator <-> projection image contract: what `argv()` builds, the parser reads back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from readside_core.admin_commands import (
    CONSUMER_GROUP_ENV,
    READ_MODEL_SCHEMA_ENV,
    AdminCommand,
    DropReadModel,
    InvalidAdminCommand,
    Migrate,
    Promote,
    Reset,
    Target,
    parse_admin_command,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        (Reset(earliest=True), ["reset", "--earliest"]),
        (Reset(offsets={1: 5, 0: 7}, dry_run=True), ["reset", "--offsets", "0:7,1:5", "--dry-run"]),
        (
            Reset(timestamp=datetime(2025, 3, 1, 9, tzinfo=UTC)),
            ["reset", "--timestamp", "2025-03-01T09:00:00+00:00"],
        ),
        (
            Promote(schema="rm_bg", consumer_group="g-bg"),
            ["promote", "--schema", "rm_bg", "--consumer-group", "g-bg"],
        ),
        (DropReadModel(schema="rm_old"), ["drop-read-model", "--schema", "rm_old"]),
        (
            DropReadModel(schema="rm_old", grace_seconds=2.5),
            ["drop-read-model", "--schema", "rm_old", "--grace-seconds", "2.5"],
        ),
        (Migrate(), ["migrate"]),
    ],
)
def test_every_command_round_trips_through_its_argv(command: AdminCommand, argv: list[str]) -> None:
    assert command.argv() == argv
    assert parse_admin_command(argv) == command


def test_the_target_travels_in_the_environment_the_service_reads() -> None:
    assert READ_MODEL_SCHEMA_ENV == "READ_MODEL_SCHEMA"
    assert CONSUMER_GROUP_ENV == "CONSUMER_GROUP"
    assert Target("rm_x", "g2").env() == {"CONSUMER_GROUP": "g2", "READ_MODEL_SCHEMA": "rm_x"}
    assert Target(consumer_group="g").env() == {"CONSUMER_GROUP": "g"}
    assert Target().env() == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reset", "--offsets", "zero:1"], "PARTITION:OFFSET"),
        (["reset", "--offsets", ","], "no offsets given"),
        (["reset", "--timestamp", "yesterday"], "--timestamp 'yesterday' is not an RFC 3339"),
        (["reset", "--timestamp", "2024-03-01T09:00:00"], "no timezone"),
        (["reset"], "one of the arguments"),
        (["promote", "--schema", "rm_x"], "--consumer-group"),
        (["sideways"], "invalid choice"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidAdminCommand, match=message):
        parse_admin_command(argv)


def test_a_reset_names_exactly_one_starting_point() -> None:
    with pytest.raises(InvalidAdminCommand, match="exactly one"):
        Reset(earliest=True, offsets={0: 1})
    with pytest.raises(InvalidAdminCommand, match="exactly one"):
        Reset()
