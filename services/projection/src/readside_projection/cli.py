"""Entry point `readside-projection`: run (default), migrate, reset, the read-model version
commands promote, drop-read-model and read-model-status, and `dlq list|redrive`.

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
from typing import Any, NoReturn, TypeVar

from readside_core.admin_commands import (
    DropReadModel,
    InvalidAdminCommand,
    Promote,
    Reset,
    add_admin_parsers,
    command_from_args,
)
from readside_core.read_model_version import InvalidSchemaName
from readside_core.settings import SettingsError
from readside_projection.dlq_cli import add_dlq_parser
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
    add_admin_parsers(sub)
    sub.add_parser("read-model-status", help="print the live version and group as JSON")
    add_dlq_parser(sub)
    return parser


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
    elif command in (Reset.NAME, Promote.NAME, DropReadModel.NAME):
        _admin_command(settings, args)
    elif command == "read-model-status":
        _read_model_status(settings)
    elif command == "dlq":
        from readside_projection.dlq_cli import dlq_command

        _print(_run(f"dlq {args.dlq_command}", dlq_command(settings, args)))
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

    from readside_kafka import KafkaLookupError
    from readside_projection.dlq import DlqRefused
    from readside_projection.reset import ResetError
    from readside_projection.version_admin import CacheNotCleaned, VersionRefused

    try:
        yield
    except (ResetError, VersionRefused, InvalidSchemaName, DlqRefused) as exc:
        _exit(REFUSED, f"{command} refused: {exc}")
    except CacheNotCleaned as exc:
        _exit(FAILED, f"{command} failed: {exc}")
    except (DBAPIError, asyncpg.PostgresError, OSError) as exc:
        _exit(FAILED, f"{command} failed: PostgreSQL: {str(exc).splitlines()[0]}")
    except (KafkaError, KafkaLookupError) as exc:
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


def _admin_command(settings: ProjectionSettings, args: argparse.Namespace) -> None:
    """reset, promote or drop-read-model, parsed by the contract the operator builds with."""
    try:
        command = command_from_args(args)
    except InvalidAdminCommand as exc:
        _exit(REFUSED, f"{args.command} refused: {exc}")
    if isinstance(command, Reset):
        _reset(settings, command)
        return
    from readside_projection import version_admin

    if isinstance(command, Promote):
        from readside_projection.migrate import head_revision

        promote = version_admin.promote(
            settings.database_url,
            settings.redis_url,
            command.schema,
            command.consumer_group,
            head_revision(),
        )
        _print(_run(command.NAME, promote))
    elif isinstance(command, DropReadModel):
        drop = version_admin.drop_read_model(
            settings.database_url, settings.redis_url, command.schema, command.grace_seconds
        )
        _print(_run(command.NAME, drop))


def _reset(settings: ProjectionSettings, command: Reset) -> None:
    from readside_projection.reset import ResetTarget, reset

    target = ResetTarget(
        earliest=command.earliest, timestamp=command.timestamp, offsets=command.offsets
    )
    used, offsets = _run("reset", reset(settings, target, dry_run=command.dry_run))
    _print(
        {
            "dryRun": command.dry_run,
            "topic": used.topic,
            "group": used.consumer_group,
            "schema": used.read_model_schema,
            "offsets": {str(p): o for p, o in sorted(offsets.items())},
        }
    )


def _read_model_status(settings: ProjectionSettings) -> None:
    from readside_projection import version_admin

    status = version_admin.read_model_status(settings.database_url, settings.consumer_group)
    _print(_run("read-model-status", status))


def _print(report: dict[str, Any]) -> None:
    print(json.dumps(report))


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    main()
