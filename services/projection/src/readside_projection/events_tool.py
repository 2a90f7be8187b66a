"""Entry point `readside-events`: publish fixture files, or generate order lifecycles, to Kafka;
`schemas DIR` writes the JSON Schema of every event type and version (readside_core.event_schemas).

The producer uses acks=all and idempotence, so a publish that returns has landed once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from aiokafka import AIOKafkaProducer

from readside_core.connection_security import KafkaSecurity
from readside_core.fixtures import read_messages
from readside_projection.generator import generate


async def publish(
    messages: Iterable[tuple[bytes | None, bytes]],
    *,
    brokers: str,
    topic: str,
    rate: float = 0.0,
    headers: list[tuple[str, bytes]] | None = None,
    security: KafkaSecurity | None = None,
) -> int:
    """Send every message, at most `rate` per second (0: as fast as the broker takes them).
    `security`: TLS and SASL (None: from the environment, KAFKA_SECURITY_PROTOCOL...)."""
    security = KafkaSecurity.from_env() if security is None else security
    producer = AIOKafkaProducer(
        bootstrap_servers=brokers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        **security.client_kwargs(),
    )
    await producer.start()
    sent = 0
    started = time.perf_counter()
    try:
        in_flight = []
        for key, value in messages:
            in_flight.append(await producer.send(topic, value=value, key=key, headers=headers))
            sent += 1
            if len(in_flight) >= 5000:
                await asyncio.gather(*in_flight)
                in_flight.clear()
            if rate:
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0.005:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*in_flight)
    finally:
        await producer.stop()
    return sent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="readside-events", description=__doc__)
    parser.add_argument("--brokers", default=os.environ.get("KAFKA_BROKERS", "localhost:9092"))
    parser.add_argument("--topic", default=os.environ.get("KAFKA_TOPIC", "order-events"))
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="publish a .jsonl file of {key, value} lines")
    pub.add_argument("file", type=Path)
    pub.add_argument("--rate", type=float, default=0.0, help="events per second (0: unlimited)")
    gen = sub.add_parser("generate", help="generate realistic order lifecycles")
    gen.add_argument("--orders", type=int, required=True)
    gen.add_argument("--rate", type=float, default=0.0, help="events per second (0: unlimited)")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--duplicates", type=float, default=0.0, help="share re-published (0..1)")
    gen.add_argument("--out", type=Path, help="write a .jsonl file instead of publishing")
    schemas = sub.add_parser("schemas", help="write the events' JSON Schemas into a directory")
    schemas.add_argument("directory", type=Path, help="e.g. libs/readside-core/schemas")
    return parser


def _write_schemas(directory: Path) -> None:
    from readside_core.event_schemas import all_schemas

    directory.mkdir(parents=True, exist_ok=True)
    for name, text in all_schemas().items():
        (directory / name).write_text(text)
        print(directory / name)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "schemas":
        _write_schemas(args.directory)
        return
    if args.command == "publish":
        if not args.file.exists():
            raise SystemExit(f"{args.file}: no such file")
        messages: Iterable[tuple[bytes | None, bytes]] = read_messages(args.file)
    else:
        if args.orders < 1:
            raise SystemExit("--orders must be at least 1")
        messages = generate(args.orders, seed=args.seed, duplicate_rate=args.duplicates)
        if args.out:
            with args.out.open("wb") as out:
                for key, value in messages:
                    out.write(b'{"key":"' + key + b'","value":' + value + b"}\n")
            return
    started = time.perf_counter()
    sent = asyncio.run(publish(messages, brokers=args.brokers, topic=args.topic, rate=args.rate))
    elapsed = time.perf_counter() - started
    print(f"published {sent} events to {args.topic} in {elapsed:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
