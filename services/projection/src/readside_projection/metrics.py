"""Prometheus metrics of the projection service."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "readside_projection_events",
    "Events seen, by outcome: applied, duplicate, skipped_unknown, missing_order, "
    "already_created, dead_lettered",
    ["outcome"],
)
BATCH_SIZE = Histogram(
    "readside_projection_batch_size",
    "Records per PostgreSQL transaction (fetches queued meanwhile are merged)",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
BATCH_SECONDS = Histogram(
    "readside_projection_batch_seconds",
    "Time of one PostgreSQL transaction (write and commit)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG = Gauge("readside_projection_lag", "Records behind the partition's end", ["topic", "partition"])
STORED_OFFSET = Gauge(
    "readside_projection_stored_offset",
    "Next offset stored in PostgreSQL with the read model",
    ["topic", "partition"],
)
STALLED = Gauge(
    "readside_projection_partition_stalled",
    "1 while a partition is stopped at an event version newer than this projection knows "
    "(upgrade the projection; /readyz names the offset and the version)",
    ["topic", "partition"],
)
DLQ_DEPTH = Gauge(
    "readside_projection_dlq_depth",
    "Dead letters in the topic that no `readside-projection dlq redrive` has sent back yet",
    ["topic"],
)
RETRIES = Counter("readside_projection_retries", "Batches retried, by reason", ["reason"])
CACHE_ERRORS = Counter(
    "readside_projection_cache_errors", "Cache updates that failed and were kept for a retry"
)
READ_MODEL = Gauge(
    "readside_projection_read_model_info",
    "The read-model version (PostgreSQL schema) this process writes, and its consumer group",
    ["schema", "consumer_group"],
)
OFFSET_GAPS = Counter(
    "readside_projection_offset_gaps",
    "Holes in a partition's offsets confirmed by reading again (transaction markers, "
    "compaction): the records around them were folded in order",
    ["topic", "partition"],
)
FRESHNESS = Histogram(
    "readside_projection_freshness_seconds",
    "Age of the oldest record of a batch (now minus its Kafka timestamp, i.e. since it was "
    "published) when the batch was folded, committed to PostgreSQL, and published to the "
    "query cache (then it is visible in the API)",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def observe_freshness(stage: str, oldest_ms: int) -> None:
    if oldest_ms:
        FRESHNESS.labels(stage).observe(max(time.time() - oldest_ms / 1000, 0.0))
