"""Prometheus metrics, kept cheap on the request path.

Request counts and latencies, and cache lookups, are plain Python numbers updated without
locks (each Granian worker runs its app on one event-loop thread) and turned into metric
families only when /metrics is scraped. Requests are labelled by route *template*
(`/api/v1/orders/{order_id}`), never the raw path; paths that match no route share the
label `unmatched`. Rarer events use prometheus_client counters directly.

Each worker process has its own numbers: run one worker per pod (the default) so that a
scrape sees the whole process.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestStats(Collector):
    """Count, latency buckets and latency sum per (route template, method, status)."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = buckets
        # key -> [bucket counts (non-cumulative, last one is +Inf)..., sum of seconds]
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method if method in METHODS else "OTHER", status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0.0] * (len(self.bounds) + 2)
        series[bisect_left(self.bounds, seconds)] += 1
        series[-1] += seconds

    def count(self, route: str, method: str, status: int) -> int:
        series = self._series.get((route, method, status))
        return 0 if series is None else int(sum(series[:-1]))

    def collect(self) -> Iterator[Metric]:
        labels = ["route", "method", "status"]
        requests = CounterMetricFamily(
            "readside_query_requests",
            "HTTP requests answered, by route template, method and status.",
            labels=labels,
        )
        latency = HistogramMetricFamily(
            "readside_query_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status.",
            labels=labels,
        )
        for (route, method, status), series in list(self._series.items()):
            values = [route, method, str(status)]
            cumulative, buckets = 0.0, []
            for bound, count in zip((*self.bounds, float("inf")), series[:-1], strict=True):
                cumulative += count
                buckets.append((_le(bound), cumulative))
            requests.add_metric(values, cumulative)
            latency.add_metric(values, buckets, series[-1])
        yield requests
        yield latency


class CacheStats(Collector):
    """Cache lookups by layer (local, redis), kind (order, number, page, summary, product),
    result."""

    LAYERS: Final = ("local", "redis")
    KINDS: Final = ("order", "number", "page", "summary", "product")

    def __init__(self) -> None:
        self.lookups = {
            (layer, kind, result): 0
            for layer in self.LAYERS
            for kind in self.KINDS
            for result in ("hit", "miss")
        }

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "readside_query_cache_lookups",
            "Cache lookups by layer (local, redis), kind (order, number, page, summary, "
            "product), result.",
            labels=["layer", "kind", "result"],
        )
        for labels, count in self.lookups.items():
            family.add_metric(list(labels), count)
        yield family


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


REQUEST_STATS = RequestStats()
CACHE_STATS = CacheStats()
REGISTRY.register(REQUEST_STATS)
REGISTRY.register(CACHE_STATS)

REDIS_ERRORS = Counter(
    "readside_query_redis_errors",
    "Redis calls that failed or timed out, by operation (requests went on without Redis).",
    ["operation"],
)
REDIS_SKIPPED = Counter(
    "readside_query_redis_skipped",
    "Redis calls skipped because the circuit breaker was open after a failure.",
)
INVALIDATIONS = Counter(
    "readside_query_invalidations",
    "Invalidation messages received on the pub/sub channel, by outcome.",
    ["outcome"],
)
READ_MODEL = Gauge(
    "readside_query_read_model_info",
    "The read-model version (PostgreSQL schema) this process serves: 1 for that schema.",
    ["schema"],
)
READ_MODEL_SWAPS = Counter(
    "readside_query_read_model_swaps",
    "Times this process switched to another read-model version (the first one included).",
)
OPEN_STREAMS = Gauge(
    "readside_query_open_streams",
    "Change streams (Server-Sent Events) this process serves now; STREAM_MAX bounds them.",
)
SUBSCRIPTIONS = Counter(
    "readside_query_subscriptions",
    "Times the invalidation subscriber (re)subscribed; the in-process cache is used only then.",
)


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
