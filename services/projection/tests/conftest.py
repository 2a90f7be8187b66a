"""Running the real projection process against the local stack, and reading what it wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import select

from readside_core.db import create_engine
from readside_core.schema import consumer_offsets
from readside_kafka import topic_partitions
from readside_projection.events_tool import publish
from readside_testkit.exactness import Message, ReadModel, assert_exact, read_back
from readside_testkit.processes import projection_command
from readside_testkit.waiting import eventually


@dataclass
class ProjectionProcess:
    """One `readside-projection run` OS process, killable like a real pod."""

    env: dict[str, str]
    log_dir: Path
    command: list[str] = field(default_factory=lambda: projection_command("run"))
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        log = self.log_dir / f"projection-{id(self):x}-{self.starts}.log"
        self.logs.append(log)
        self.process = subprocess.Popen(
            self.command,
            env={**os.environ, **self.env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return (
            "".join(p.read_text()[-5000:] for p in self.logs[-1:]).splitlines()[-lines:].__str__()
        )


@dataclass
class ProjectionHarness:
    database_url: str
    brokers: str
    topic: str
    group: str
    redis_url: str
    tmp: Path
    processes: list[ProjectionProcess] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BROKERS": self.brokers,
            "KAFKA_TOPIC": self.topic,
            "CONSUMER_GROUP": self.group,
            "REDIS_URL": self.redis_url,
            "OPS_PORT": "0",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "RETRY_MAX_SECONDS": "1",
            "LOG_LEVEL": "INFO",
            **extra,
        }

    def projection(self, command: list[str] | None = None, **extra: str) -> ProjectionProcess:
        """`readside-projection run` (or `command`: tests/patched_projection.py) started now."""
        process = ProjectionProcess(self.env(**extra), self.tmp)
        if command is not None:
            process.command = command
        self.processes.append(process)
        process.start()
        return process

    async def create_topic(self, partitions: int) -> None:
        """The harness's topic, created now (instead of auto-created by the first publish)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.brokers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, partitions, 1)])
        finally:
            await admin.close()

    async def publish(self, messages: Iterable[Message], topic: str | None = None) -> int:
        return await publish(messages, brokers=self.brokers, topic=topic or self.topic)

    async def end_offsets(self, topic: str | None = None) -> dict[int, int]:
        name = topic or self.topic
        admin = AIOKafkaAdminClient(bootstrap_servers=self.brokers)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.brokers)
        await admin.start()
        await consumer.start()
        try:
            # A topic just auto-created may take a moment to show up.
            parts = await eventually(lambda: topic_partitions(admin, name), 5, f"topic {name}")
            ends = await consumer.end_offsets([TopicPartition(name, p) for p in parts])
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await consumer.stop()
            await admin.close()

    async def stored_offsets(
        self, group: str | None = None, schema: str = "public"
    ) -> dict[int, int]:
        """The offsets stored in a read-model version (public) for a group (the harness's)."""
        engine = create_engine(self.database_url, schema=schema, pool_size=1)
        try:
            async with engine.connect() as conn:
                c = consumer_offsets.c
                rows = await conn.execute(
                    select(c.partition, c.next_offset).where(
                        c.consumer_group == (group or self.group), c.topic == self.topic
                    )
                )
                return dict(rows.all())
        finally:
            await engine.dispose()

    async def wait_caught_up(
        self, within: float = 120, group: str | None = None, schema: str = "public"
    ) -> None:
        """Poll until PostgreSQL's stored offsets reach the end of every partition."""
        ends = await eventually(self.end_offsets, 60, f"the end offsets of {self.topic}")
        stored: dict[int, int] = {}

        async def caught_up() -> bool:
            nonlocal stored
            stored = await self.stored_offsets(group, schema)
            return bool(stored) and all(stored.get(p, 0) >= e for p, e in ends.items() if e > 0)

        try:
            await eventually(caught_up, within, "the stored offsets to reach the end", 0.25)
        except AssertionError:
            logs = [p.log_tail() for p in self.processes]
            pytest.fail(f"not caught up after {within}s: stored {stored}, end {ends}\n{logs}")

    async def project_then_stop(self, messages: Iterable[Message]) -> None:
        """Publish, run a projection until it has stored the end, stop it (SIGTERM)."""
        await self.publish(messages)
        process = self.projection()
        await self.wait_caught_up()
        assert process.kill(signal.SIGTERM) == 0

    async def read_model(self, schema: str = "public") -> ReadModel:
        return await read_back(self.database_url, schema)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.alive():
                process.kill(signal.SIGKILL)


@pytest.fixture
def harness(
    fresh_database_url: str, stack_env: dict[str, str], tmp_path: Path
) -> Iterator[ProjectionHarness]:
    suffix = uuid.uuid4().hex[:8]
    h = ProjectionHarness(
        database_url=fresh_database_url,
        brokers=stack_env["KAFKA_BROKERS"],
        topic=f"order-events-{suffix}",
        group=f"projection-{suffix}",
        redis_url=stack_env["REDIS_URL"],
        tmp=tmp_path,
    )
    yield h
    h.stop_all()


@pytest.fixture(name="assert_exact")
def assert_exact_fixture(harness: ProjectionHarness) -> Any:
    """Check the read model against the pure fold of `messages`: every row, every column."""

    async def check(messages: list[Message]) -> None:
        assert_exact(await harness.read_model(), messages)

    return check
