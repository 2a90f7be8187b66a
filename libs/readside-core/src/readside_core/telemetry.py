"""OpenTelemetry setup: on only when OTEL_EXPORTER_OTLP_ENDPOINT is set, free otherwise.

When it is not set nothing is imported beyond the API, whose tracer is a no-op.
The SDK, the OTLP exporter and the instrumentations come with the `otel` extra.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def tracing_enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def setup_tracing(service_name: str, *, sqlalchemy_engine: Any = None, redis: bool = False) -> bool:
    """Install an OTLP/HTTP exporter and instrument SQLAlchemy and Redis. Returns True if on."""
    if not tracing_enabled():
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if sqlalchemy_engine is not None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engine=sqlalchemy_engine.sync_engine)
    if redis:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()
    log.info("OpenTelemetry tracing on, exporting to %s", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return True
