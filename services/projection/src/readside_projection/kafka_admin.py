"""Kafka metadata look-ups the projection's tools need (partitions of a topic)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

UNKNOWN_TOPIC = 3


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> set[int]:
    """The topic's partition numbers; empty when the topic does not exist."""
    for described in await admin.describe_topics([topic]):
        if described["topic"] == topic and described["error_code"] != UNKNOWN_TOPIC:
            return {p["partition"] for p in described["partitions"]}
    return set()
