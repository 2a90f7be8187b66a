"""`readside-projection dlq list|redrive|discard`: the arguments, and the selection they make."""

from __future__ import annotations

import argparse
from typing import Any

from readside_core.views import parse_time
from readside_projection.dlq import DlqRefused, Selection, parse_originals
from readside_projection.settings import ProjectionSettings


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--offsets",
        help="original PARTITION:OFFSET or PARTITION:FIRST-LAST, comma separated "
        "(where the dead letters were in the source topic)",
    )
    parser.add_argument("--error", help="dlq.error contains this text (case-insensitive)")
    parser.add_argument("--since", help="dead-lettered at or after this RFC 3339 time")
    parser.add_argument("--until", help="dead-lettered before this RFC 3339 time")


def add_dlq_parser(sub: argparse._SubParsersAction[Any]) -> None:
    dlq = sub.add_parser(
        "dlq",
        help="list the dead letters of KAFKA_TOPIC, or send them back to it",
        description="Dead letters are in <KAFKA_TOPIC>.dlq; redrive progress is the consumer "
        "group <KAFKA_TOPIC>.dlq.redrive. Filters combine (all must match).",
    )
    commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = commands.add_parser("list", help="print the dead letters as JSON")
    _filters(listing)
    listing.add_argument(
        "--pending", action="store_true", help="only those no redrive has sent back yet"
    )
    redrive = commands.add_parser(
        "redrive",
        help="publish the selected dead letters to the source topic again",
        description="Sends key, value and original headers, plus dlq.redriven.from; a dead "
        "letter redriven once is never sent again. Give --all, or one filter or more.",
    )
    discard = commands.add_parser(
        "discard",
        help="record the selected dead letters as handled without sending them",
        description="For events that were really bad: they stop counting in the DLQ depth and "
        "no later redrive sends them. Give --all, or one filter or more.",
    )
    for command in (redrive, discard):
        command.add_argument("--all", action="store_true", help="every one not handled yet")
        _filters(command)
        command.add_argument("--dry-run", action="store_true", help="print what it would do")


def _time(option: str, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise DlqRefused(f"{option} {exc}") from None


def selection_from_args(args: argparse.Namespace) -> Selection:
    selection = Selection(
        everything=bool(getattr(args, "all", False)),
        originals=parse_originals(args.offsets) if args.offsets else None,
        error=args.error or None,
        since=_time("--since", args.since),
        until=_time("--until", args.until),
    )
    if args.dlq_command != "list" and selection.everything == selection.filtered:
        raise DlqRefused(
            f"say what to {args.dlq_command}: --all, or filters (--offsets, --error, --since, "
            "--until), not both; try --dry-run first"
        )
    return selection


async def dlq_command(settings: ProjectionSettings, args: argparse.Namespace) -> dict[str, Any]:
    from readside_projection import dlq_admin

    selection = selection_from_args(args)
    if args.dlq_command == "list":
        report = await dlq_admin.list_dead_letters(settings, selection)
        if args.pending:
            report["deadLetters"] = [d for d in report["deadLetters"] if not d["redriven"]]
            report["shown"] = len(report["deadLetters"])
        return report
    send = args.dlq_command == "redrive"
    return await dlq_admin.redrive(settings, selection, dry_run=args.dry_run, send=send)
