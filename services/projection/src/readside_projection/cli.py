"""Entry point `readside-projection`: run (default), migrate, reset."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import datetime

from readside_core.settings import SettingsError
from readside_core.views import parse_time
from readside_projection.settings import ProjectionSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readside-projection",
        description="Fold order events from Kafka into the PostgreSQL read models.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="consume and project (the default)")
    sub.add_parser("migrate", help="create or upgrade the read-model schema (Alembic)")
    reset = sub.add_parser(
        "reset",
        help="empty the read models and rewind the stored and committed offsets",
        description="Refuses while the consumer group has active members.",
    )
    where = reset.add_mutually_exclusive_group(required=True)
    where.add_argument("--earliest", action="store_true", help="from the start of every partition")
    where.add_argument("--timestamp", help="from the first offset at or after this RFC 3339 time")
    where.add_argument("--offsets", help="PARTITION:OFFSET,... (unlisted partitions: earliest)")
    reset.add_argument("--dry-run", action="store_true", help="print the offsets, change nothing")
    return parser


def _parse_time(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise SystemExit(f"--timestamp {exc}") from None


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        settings = ProjectionSettings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    command = args.command or "run"
    if command == "migrate":
        from readside_projection.migrate import upgrade

        upgrade(settings.database_url)
    elif command == "reset":
        _reset(settings, args)
    else:
        from readside_projection.app import run

        _install_uvloop()
        asyncio.run(run(settings))


def _reset(settings: ProjectionSettings, args: argparse.Namespace) -> None:
    from readside_projection.reset import ResetError, ResetTarget, parse_offsets, reset

    try:
        target = ResetTarget(
            earliest=args.earliest,
            timestamp=_parse_time(args.timestamp) if args.timestamp else None,
            offsets=parse_offsets(args.offsets) if args.offsets else None,
        )
        offsets = asyncio.run(reset(settings, target, dry_run=args.dry_run))
    except ResetError as exc:
        print(f"reset refused: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(
        json.dumps(
            {
                "dryRun": args.dry_run,
                "topic": settings.topic,
                "group": settings.consumer_group,
                "offsets": {str(p): o for p, o in sorted(offsets.items())},
            }
        )
    )


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    main()
