"""Dead letters: bad records sent to `<topic>.dlq` with where they came from and why.

They are sent before the offsets that pass them can be stored (at least once in the DLQ,
never lost); while Kafka refuses them the batch waits, retrying with capped backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from readside_projection import metrics
from readside_projection.batch import DeadLetter
from readside_projection.ops import Health
from readside_projection.settings import ProjectionSettings

log = logging.getLogger(__name__)


class DeadLetterSender:
    def __init__(
        self, producer: AIOKafkaProducer, settings: ProjectionSettings, health: Health
    ) -> None:
        self.producer = producer
        self.settings = settings
        self.health = health

    async def send(self, dead_letters: list[DeadLetter], give_up: Callable[[], bool]) -> bool:
        """Send them all; False if `give_up()` says so while Kafka refuses them (stopping,
        or the batch was dropped by a rebalance)."""
        delay = 0.1
        while dead_letters:
            try:
                await self._send(dead_letters)
                return True
            except KafkaError as exc:
                metrics.RETRIES.labels("dead_letter").inc()
                self.health.kafka = f"dead-letter produce failed: {exc}"
                log.warning("dead-letter produce failed, retrying in %.1fs: %s", delay, exc)
                if give_up():
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
        return True

    async def _send(self, dead_letters: list[DeadLetter]) -> None:
        sends = [
            await self.producer.send(
                self.settings.dlq_topic,
                key=d.record.key,
                value=d.record.value,
                headers=[
                    *d.record.headers,
                    ("dlq.error", d.error.encode()),
                    ("dlq.original.topic", d.record.topic.encode()),
                    ("dlq.original.partition", str(d.record.partition).encode()),
                    ("dlq.original.offset", str(d.record.offset).encode()),
                    ("dlq.original.timestamp", str(d.record.timestamp_ms).encode()),
                ],
            )
            for d in dead_letters
        ]
        await asyncio.gather(*sends)
        for d in dead_letters:
            log.warning(
                "dead-lettered %s[%d]@%d: %s",
                d.record.topic,
                d.record.partition,
                d.record.offset,
                d.error,
            )
