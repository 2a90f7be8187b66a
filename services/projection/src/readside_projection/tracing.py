"""One span per batch, continuing the producer's trace from the `traceparent` header.

The first record that carries a traceparent becomes the parent; the others are linked.
Without OTEL_EXPORTER_OTLP_ENDPOINT the API's tracer is a no-op and headers are not parsed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Link, Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from readside_core.telemetry import tracing_enabled
from readside_projection.batch import Record

_tracer = trace.get_tracer("readside.projection")
_propagator = TraceContextTextMapPropagator()
_MAX_LINKS = 64


def _contexts(records: Sequence[Record]) -> list[trace.SpanContext]:
    found: list[trace.SpanContext] = []
    for record in records:
        for name, value in record.headers:
            if name == "traceparent":
                ctx = _propagator.extract({"traceparent": value.decode("latin-1")})
                span_context = trace.get_current_span(ctx).get_span_context()
                if span_context.is_valid:
                    found.append(span_context)
                    if len(found) > _MAX_LINKS:
                        return found
    return found


@contextmanager
def batch_span(records: Sequence[Record]) -> Iterator[Span]:
    if not tracing_enabled():
        yield trace.INVALID_SPAN
        return
    contexts = _contexts(records)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0])) if contexts else None
    links = [Link(c) for c in contexts[1:]]
    with _tracer.start_as_current_span(
        "projection.batch", context=parent, links=links, kind=trace.SpanKind.CONSUMER
    ) as span:
        span.set_attribute("messaging.batch.message_count", len(records))
        yield span
