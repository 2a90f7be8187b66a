"""Entry point `readside-projection`: run (default), migrate, reset, and the read-model
version commands promote, drop-read-model and read-model-status.

Exit codes: 0 done; 1 failed on something that may work on a retry (PostgreSQL, Kafka or Redis
unreachable); 2 refused: bad settings or arguments, or the request cannot be done as things
stand (the message says what to change; retrying unchanged fails again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Coroutine, Iterator
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from readside_core.read_model_version import InvalidSchemaName
from readside_core.settings import SettingsError
from readside_core.views import parse_time
from readside_projection.settings import ProjectionSettings

T = TypeVar("T")
REFUSED = 2
FAILED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readside-projection",
        description="Fold order events from Kafka into the PostgreSQL read models.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="consume and project (the default)")
    sub.add_parser(
        "migrate",
        help="create or upgrade a read-model version (Alembic)",
        description="With READ_MODEL_SCHEMA: that version (the schema is created). Without: "
        "public (which holds the live pointer), then the live version if it is another.",
    )
    reset = sub.add_parser(
        "reset",
        help="empty the read models and rewind the stored and committed offsets",
        description="Works on READ_MODEL_SCHEMA with CONSUMER_GROUP, or the live version and "
        "group. Refuses while the consumer group has active members.",
    )
    where = reset.add_mutually_exclusive_group(required=True)
    where.add_argument("--earliest", action="store_true", help="from the start of every partition")
    where.add_argument("--timestamp", help="from the first offset at or after this RFC 3339 time")
    where.add_argument("--offsets", help="PARTITION:OFFSET,... (unlisted partitions: earliest)")
    reset.add_argument("--dry-run", action="store_true", help="print the offsets, change nothing")
    promote = sub.add_parser(
        "promote",
        help="make a read-model version live (the query service switches to it at once)",
        description="Checks the schema holds a migrated read model, moves the live pointer in "
        "one transaction, then tells query pods. Idempotent.",
    )
    promote.add_argument("--schema", required=True, help="the version's PostgreSQL schema")
    promote.add_argument(
        "--consumer-group", required=True, help="the group whose projection keeps it current"
    )
    drop = sub.add_parser(
        "drop-read-model",
        help="drop a read-model version that is not live, and its cache keys",
        description="Refuses public and the live version. Idempotent: an absent schema is done.",
    )
    drop.add_argument("--schema", required=True, help="the version's PostgreSQL schema")
    drop.add_argument(
        "--grace-seconds",
        type=float,
        default=10.0,
        help="within this long of a promote, wait that out first: query pods that missed the "
        "swap message switch at their next poll (default 10)",
    )
    sub.add_parser("read-model-status", help="print the live version and group as JSON")
    return parser


def _parse_time(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        _exit(REFUSED, f"reset refused: --timestamp {exc}")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        settings = ProjectionSettings.from_env()
    except SettingsError as exc:
        _exit(REFUSED, f"configuration error: {exc}")
    command = args.command or "run"
    if command == "migrate":
        _migrate(settings)
    elif command == "reset":
        _reset(settings, args)
    elif command in ("promote", "drop-read-model", "read-model-status"):
        _version_command(settings, command, args)
    else:
        from readside_projection.app import run

        _install_uvloop()
        asyncio.run(run(settings))


def _exit(code: int, message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)


@contextlib.contextmanager
def _reporting(command: str) -> Iterator[None]:
    """Map what can go wrong in a command to a one-line message and an exit code."""
    import asyncpg
    import redis.exceptions
    from aiokafka.errors import KafkaError
    from sqlalchemy.exc import DBAPIError

    from readside_projection.reset import ResetError
    from readside_projection.version_admin import CacheNotCleaned, VersionRefused

    try:
        yield
    except (ResetError, VersionRefused, InvalidSchemaName) as exc:
        _exit(REFUSED, f"{command} refused: {exc}")
    except CacheNotCleaned as exc:
        _exit(FAILED, f"{command} failed: {exc}")
    except (DBAPIError, asyncpg.PostgresError, OSError) as exc:
        _exit(FAILED, f"{command} failed: PostgreSQL: {str(exc).splitlines()[0]}")
    except KafkaError as exc:
        _exit(FAILED, f"{command} failed: Kafka: {exc}")
    except redis.exceptions.RedisError as exc:
        _exit(FAILED, f"{command} failed: Redis: {exc}")


def _run(command: str, coroutine: Coroutine[Any, Any, T]) -> T:
    with _reporting(command):
        return asyncio.run(coroutine)


def _migrate(settings: ProjectionSettings) -> None:
    from readside_projection.migrate import head_revision, upgrade, upgrade_live

    with _reporting("migrate"):
        if settings.read_model_schema is not None:
            upgrade(settings.database_url, schema=settings.read_model_schema)
            schemas = [settings.read_model_schema]
        else:
            schemas = upgrade_live(settings.database_url)
    print(json.dumps({"schemas": schemas, "revision": head_revision()}))


def _reset(settings: ProjectionSettings, args: argparse.Namespace) -> None:
    from readside_projection.reset import ResetError, ResetTarget, parse_offsets, reset

    try:
        target = ResetTarget(
            earliest=args.earliest,
            timestamp=_parse_time(args.timestamp) if args.timestamp else None,
            offsets=parse_offsets(args.offsets) if args.offsets else None,
        )
    except ResetError as exc:
        _exit(REFUSED, f"reset refused: {exc}")
    used, offsets = _run("reset", reset(settings, target, dry_run=args.dry_run))
    print(
        json.dumps(
            {
                "dryRun": args.dry_run,
                "topic": used.topic,
                "group": used.consumer_group,
                "schema": used.read_model_schema,
                "offsets": {str(p): o for p, o in sorted(offsets.items())},
            }
        )
    )


def _version_command(settings: ProjectionSettings, command: str, args: argparse.Namespace) -> None:
    from readside_projection import version_admin

    report: dict[str, Any]
    if command == "promote":
        from readside_projection.migrate import head_revision

        report = _run(
            command,
            version_admin.promote(
                settings.database_url,
                settings.redis_url,
                args.schema,
                args.consumer_group,
                head_revision(),
            ),
        )
    elif command == "drop-read-model":
        drop = version_admin.drop_read_model(
            settings.database_url, settings.redis_url, args.schema, args.grace_seconds
        )
        report = _run(command, drop)
    else:
        report = _run(
            command, version_admin.read_model_status(settings.database_url, settings.consumer_group)
        )
    print(json.dumps(report))


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    main()
