"""Prometheus metrics of the operator (served on METRICS_PORT, default 9090).

The lag and desired replicas are exported so a team that prefers HPA or KEDA can scale on
the operator's figure instead of letting the operator scale.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

_PROJECTION = ["resource_namespace", "projection", "topic", "consumer_group"]

LAG = Gauge(
    "readside_operator_projection_lag",
    "Records the projection's consumer group is behind the end of the topic, all partitions",
    _PROJECTION,
)
PARTITION_LAG = Gauge(
    "readside_operator_projection_partition_lag",
    "Records behind the end of one partition",
    [*_PROJECTION, "partition"],
)
DESIRED = Gauge(
    "readside_operator_projection_desired_replicas",
    "Replicas the lag asks for (after clamping and stabilization)",
    _PROJECTION,
)
REPLICAS = Gauge(
    "readside_operator_projection_replicas",
    "Replicas the projection Deployment runs (spec)",
    _PROJECTION,
)
SCALINGS = Counter(
    "readside_operator_scalings_total",
    "Scalings of projection Deployments",
    ["resource_namespace", "projection", "direction"],
)
LAG_ERRORS = Counter(
    "readside_operator_lag_errors_total",
    "Polls in which Kafka could not be read (replicas kept)",
    ["resource_namespace", "projection"],
)
REPLAY_PHASE = Gauge(
    "readside_replay_phase",
    "1 for the current phase of each ProjectionReplay",
    ["resource_namespace", "projection", "replay", "phase"],
)
REPLAY_FAILED = Gauge(
    "readside_replay_failed",
    "1 when a ProjectionReplay ended in Failed",
    ["resource_namespace", "projection", "replay"],
)
LAG_SECONDS = Gauge(
    "readside_operator_projection_lag_seconds",
    "Age of the oldest unconsumed record of the projection's consumer group (0 without lag)",
    _PROJECTION,
)
PARTITION_LAG_SECONDS = Gauge(
    "readside_operator_projection_partition_lag_seconds",
    "Age of the oldest unconsumed record of one partition (0 without lag)",
    [*_PROJECTION, "partition"],
)
STALLED = Gauge(
    "readside_operator_projection_stalled_partitions",
    "Partitions whose committed offset has not moved for stalledAfterPolls polls while "
    "lagging with live group members",
    _PROJECTION,
)
