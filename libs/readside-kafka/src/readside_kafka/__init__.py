"""Kafka look-ups shared by the projection service and the operator.

`KafkaInspector` answers the questions both ask of the brokers: which partitions a topic
has, how far a consumer group is behind the end of each partition (lag), whether the group
still has members, and which offsets a reset to earliest / a timestamp / explicit offsets
means. It never joins a consumer group: it reads committed offsets through the admin API and
log offsets through a group-less consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from readside_core.connection_security import KafkaSecurity
from readside_kafka.diagnosis import diagnose
from readside_kafka.lag import GroupLag, PartitionLag, group_lag

__all__ = [
    "GroupLag",
    "GroupState",
    "KafkaInspector",
    "KafkaLookupError",
    "PartitionLag",
    "ResetError",
    "ResetTarget",
    "plan_offsets",
    "topic_partitions",
]

UNKNOWN_TOPIC = 3

T = TypeVar("T")
RETRY_SECONDS = 0.2


class KafkaLookupError(RuntimeError):
    """The brokers could not answer (down, unreachable, or too slow)."""


class ResetError(ValueError):
    """A reset target the topic cannot satisfy; the message says what to change."""


@dataclass(frozen=True, slots=True)
class GroupState:
    state: str  # Kafka's word: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead
    members: int


@dataclass(frozen=True, slots=True)
class ResetTarget:
    """Exactly one of: earliest, a timestamp, or explicit offsets per partition."""

    earliest: bool = False
    timestamp: datetime | None = None
    offsets: dict[int, int] | None = None


class KafkaInspector:
    """Read-only look-ups against one Kafka cluster; every call is bounded by `timeout`."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        timeout: float = 10.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        """`security`: TLS and SASL (None: from the environment, KAFKA_SECURITY_PROTOCOL...)."""
        self.bootstrap_servers = bootstrap_servers
        self.timeout = timeout
        self.security = KafkaSecurity.from_env() if security is None else security
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(timeout * 1000),
            **self.security.client_kwargs(),
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            request_timeout_ms=int(timeout * 1000) + 1000,
            metadata_max_age_ms=5000,
            **self.security.client_kwargs(),
        )
        self._started = False

    async def start(self) -> None:
        await self._bounded(self._start, retry=False)

    async def _start(self) -> None:
        try:
            await self._admin.start()
        except KafkaError as exc:
            # aiokafka says only "Unable to bootstrap": connect once more to learn why.
            cause = await diagnose(self.bootstrap_servers, self.security)
            await self._consumer.stop()  # never started: only frees it
            raise KafkaLookupError(f"Kafka at {self.bootstrap_servers}: {cause or exc}") from exc
        await self._consumer.start()
        self._started = True

    async def close(self) -> None:
        if self._started:
            await self._consumer.stop()
            await self._admin.close()
            self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _bounded(self, call: Callable[[], Awaitable[T]], *, retry: bool = True) -> T:
        """`call()` within the timeout; errors Kafka calls retriable (a group coordinator
        not elected yet on a fresh cluster, a leader moving) are retried until then."""
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    try:
                        return await call()
                    except KafkaError as exc:
                        if not (retry and exc.retriable):
                            raise
                        await asyncio.sleep(RETRY_SECONDS)
        except TimeoutError:
            raise KafkaLookupError(
                f"Kafka at {self.bootstrap_servers} did not answer within {self.timeout:.0f}s"
            ) from None
        except (ResetError, KafkaLookupError):
            raise
        except Exception as exc:  # aiokafka raises many types for one cause: unreachable
            raise KafkaLookupError(f"Kafka at {self.bootstrap_servers}: {exc!r}") from exc

    async def partitions(self, topic: str) -> set[int]:
        """The topic's partition numbers; empty when the topic does not exist."""
        return await self._bounded(lambda: topic_partitions(self._admin, topic))

    async def lag(self, topic: str, group: str, *, with_times: bool = False) -> GroupLag:
        """End offset minus the group's position, per partition (`readside_kafka.lag`: the
        log start when nothing is committed or retention deleted the committed record);
        `with_times`: also the timestamp of each lagging partition's oldest unconsumed
        record (one small fetch per lagging partition)."""
        return await self._bounded(lambda: self._lag(topic, group, with_times))

    async def _lag(self, topic: str, group: str, with_times: bool) -> GroupLag:
        partitions = await topic_partitions(self._admin, topic)
        return await group_lag(
            self._admin, self._consumer, topic, group, partitions, with_times=with_times
        )

    async def group_state(self, group: str) -> GroupState:
        return await self._bounded(lambda: self._group_state(group))

    async def _group_state(self, group: str) -> GroupState:
        for response in await self._admin.describe_consumer_groups([group]):
            for entry in response.groups:
                # (error_code, group, state, protocol_type, protocol, members, ...)
                if entry[1] == group:
                    return GroupState(state=str(entry[2]), members=len(entry[5]))
        return GroupState(state="Dead", members=0)

    async def plan_offsets(self, topic: str, target: ResetTarget) -> dict[int, int]:
        """The offset each partition of the topic restarts from under `target`."""
        return await self._bounded(lambda: self._plan_offsets(topic, target))

    async def _plan_offsets(self, topic: str, target: ResetTarget) -> dict[int, int]:
        partitions = await topic_partitions(self._admin, topic)
        return await plan_offsets(self._consumer, partitions, topic, target)


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> set[int]:
    """The topic's partition numbers; empty when the topic does not exist."""
    for described in await admin.describe_topics([topic]):
        if described["topic"] == topic and described["error_code"] != UNKNOWN_TOPIC:
            return {p["partition"] for p in described["partitions"]}
    return set()


async def plan_offsets(
    consumer: AIOKafkaConsumer, partitions: set[int], topic: str, target: ResetTarget
) -> dict[int, int]:
    """The offset each partition restarts from; partitions not named start at the log start."""
    if not partitions:
        raise ResetError(f"topic {topic!r} does not exist on the brokers")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    beginning = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    if target.timestamp is not None:
        if target.timestamp > datetime.now(UTC):
            raise ResetError(f"timestamp {target.timestamp.isoformat()} is in the future")
        millis = int(target.timestamp.timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: millis for tp in tps})
        return {tp.partition: (found[tp].offset if found[tp] else end[tp]) for tp in tps}
    chosen = {tp.partition: beginning[tp] for tp in tps}
    for partition, offset in (target.offsets or {}).items():
        tp = TopicPartition(topic, partition)
        if tp not in beginning:
            raise ResetError(
                f"partition {partition} does not exist: {topic} has partitions {sorted(partitions)}"
            )
        if not beginning[tp] <= offset <= end[tp]:
            raise ResetError(
                f"offset {offset} of partition {partition} is outside [{beginning[tp]}, {end[tp]}]"
            )
        chosen[partition] = offset
    return chosen
