"""The projection image's admin commands, as the operator runs them and the image parses them.

The operator starts `readside-projection reset|promote|drop-read-model|migrate` in Jobs; the
projection's CLI parses the same argv. Both sides use these types, so an argument renamed here
is renamed for both: `Command.argv()` builds the arguments, `parse_admin_command` reads them
back (`parse_admin_command(cmd.argv()) == cmd`). The read-model version and consumer group a
command works on travel in the environment (`Target.env()`), because the service reads them
there too (ProjectionSettings).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from readside_core.views import parse_time

PROGRAM = "readside-projection"
READ_MODEL_SCHEMA_ENV = "READ_MODEL_SCHEMA"
CONSUMER_GROUP_ENV = "CONSUMER_GROUP"
DEFAULT_DROP_GRACE_SECONDS = 10.0


class InvalidAdminCommand(ValueError):
    """Arguments the command cannot run with; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Target:
    """The read-model version and consumer group a command works on (unset: the live ones)."""

    read_model_schema: str | None = None
    consumer_group: str | None = None

    def env(self) -> dict[str, str]:
        env = {}
        if self.consumer_group is not None:
            env[CONSUMER_GROUP_ENV] = self.consumer_group
        if self.read_model_schema is not None:
            env[READ_MODEL_SCHEMA_ENV] = self.read_model_schema
        return env


@dataclass(frozen=True, slots=True)
class Migrate:
    """Create or upgrade a read-model version (the Target's schema, else public and live)."""

    NAME: ClassVar[str] = "migrate"

    def argv(self) -> list[str]:
        return [self.NAME]


@dataclass(frozen=True, slots=True)
class Reset:
    """Empty the read models and rewind the offsets: from the earliest, a time or offsets."""

    NAME: ClassVar[str] = "reset"
    earliest: bool = False
    timestamp: datetime | None = None
    offsets: dict[int, int] | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        chosen = [self.earliest, self.timestamp is not None, self.offsets is not None]
        if sum(chosen) != 1:
            raise InvalidAdminCommand("reset needs exactly one of earliest, timestamp, offsets")

    def argv(self) -> list[str]:
        if self.timestamp is not None:
            where = ["--timestamp", self.timestamp.isoformat()]
        elif self.offsets is not None:
            where = ["--offsets", format_offsets(self.offsets)]
        else:
            where = ["--earliest"]
        return [self.NAME, *where, *(["--dry-run"] if self.dry_run else [])]


@dataclass(frozen=True, slots=True)
class Promote:
    """Make a read-model version live, kept current by `consumer_group`."""

    NAME: ClassVar[str] = "promote"
    schema: str
    consumer_group: str

    def argv(self) -> list[str]:
        return [self.NAME, "--schema", self.schema, "--consumer-group", self.consumer_group]


@dataclass(frozen=True, slots=True)
class DropReadModel:
    """Drop a read-model version that is not live, after the grace period since a promote."""

    NAME: ClassVar[str] = "drop-read-model"
    schema: str
    grace_seconds: float = DEFAULT_DROP_GRACE_SECONDS

    def argv(self) -> list[str]:
        grace = (
            []
            if self.grace_seconds == DEFAULT_DROP_GRACE_SECONDS
            else ["--grace-seconds", f"{self.grace_seconds:g}"]
        )
        return [self.NAME, "--schema", self.schema, *grace]


AdminCommand = Migrate | Reset | Promote | DropReadModel


def format_offsets(offsets: dict[int, int]) -> str:
    """{1: 5, 0: 7} -> `0:7,1:5`."""
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def parse_offsets(text: str) -> dict[int, int]:
    """`0:120,1:98` -> {0: 120, 1: 98}."""
    offsets: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        partition, sep, offset = item.partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise InvalidAdminCommand(
                f"offset {item!r} is not PARTITION:OFFSET (for example 0:120,1:98)"
            )
        offsets[int(partition)] = int(offset)
    if not offsets:
        raise InvalidAdminCommand("no offsets given: use PARTITION:OFFSET[,PARTITION:OFFSET...]")
    return offsets


def add_admin_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """The reset, promote and drop-read-model subcommands, on a CLI's subparsers."""
    reset = sub.add_parser(
        Reset.NAME,
        help="empty the read models and rewind the stored and committed offsets",
        description=f"Works on {READ_MODEL_SCHEMA_ENV} with {CONSUMER_GROUP_ENV}, or the live "
        "version and group. Refuses while the consumer group has active members.",
    )
    where = reset.add_mutually_exclusive_group(required=True)
    where.add_argument("--earliest", action="store_true", help="from the start of every partition")
    where.add_argument("--timestamp", help="from the first offset at or after this RFC 3339 time")
    where.add_argument("--offsets", help="PARTITION:OFFSET,... (unlisted partitions: earliest)")
    reset.add_argument("--dry-run", action="store_true", help="print the offsets, change nothing")
    promote = sub.add_parser(
        Promote.NAME,
        help="make a read-model version live (the query service switches to it at once)",
        description="Checks the schema holds a migrated read model, moves the live pointer in "
        "one transaction, then tells query pods. Idempotent.",
    )
    promote.add_argument("--schema", required=True, help="the version's PostgreSQL schema")
    promote.add_argument(
        "--consumer-group", required=True, help="the group whose projection keeps it current"
    )
    drop = sub.add_parser(
        DropReadModel.NAME,
        help="drop a read-model version that is not live, and its cache keys",
        description="Refuses public and the live version. Idempotent: an absent schema is done.",
    )
    drop.add_argument("--schema", required=True, help="the version's PostgreSQL schema")
    drop.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_DROP_GRACE_SECONDS,
        help="within this long of a promote, wait that out first: query pods that missed the "
        "swap message switch at their next poll (default 10)",
    )


def command_from_args(args: argparse.Namespace) -> AdminCommand:
    """The typed command of parsed arguments (`args.command` names it)."""
    if args.command == Reset.NAME:
        return Reset(
            earliest=args.earliest,
            timestamp=_timestamp(args.timestamp) if args.timestamp else None,
            offsets=parse_offsets(args.offsets) if args.offsets else None,
            dry_run=args.dry_run,
        )
    if args.command == Promote.NAME:
        return Promote(schema=args.schema, consumer_group=args.consumer_group)
    if args.command == DropReadModel.NAME:
        return DropReadModel(schema=args.schema, grace_seconds=args.grace_seconds)
    if args.command == Migrate.NAME:
        return Migrate()
    raise InvalidAdminCommand(f"{args.command!r} is not an admin command")


class _RaisingParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise InvalidAdminCommand(message)


def parse_admin_command(argv: Sequence[str]) -> AdminCommand:
    """Parse `readside-projection` admin arguments (what `argv()` builds)."""
    parser = _RaisingParser(prog=PROGRAM)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(Migrate.NAME)
    add_admin_parsers(sub)
    return command_from_args(parser.parse_args(list(argv)))


def _timestamp(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise InvalidAdminCommand(f"--timestamp {exc}") from None
