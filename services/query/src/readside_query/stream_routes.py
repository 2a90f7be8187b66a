"""The change-stream routes (readside_query.streams): parse, open the stream, hand it over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import HeaderParameter
from litestar.response import Stream

from readside_core.read_model_version import customer_scope
from readside_query.gated_reads import served_reads
from readside_query.openapi import STREAMS_BUSY, stream_ok
from readside_query.params import parse_uuid
from readside_query.routes import CustomerId, OrderId
from readside_query.streams import (
    StreamHub,
    customer_stream,
    order_key,
    order_stream,
    resume_point,
)

AnyRequest = Request[Any, Any, Any]
LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        description="The id of the last event received: the stream resumes after it.",
        required=False,
        schema_extra={"pattern": "^[0-9]{1,18}$"},
    ),
]
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _stream(events: AsyncIterator[bytes]) -> Stream:
    return Stream(events, media_type="text/event-stream", headers=_HEADERS)


@get(
    "/api/v1/orders/{order_id:str}/stream",
    responses={**stream_ok("The order's states"), **STREAMS_BUSY},
)
async def stream_order(
    request: AnyRequest, order_id: OrderId, last_event_id: LastEventId = None
) -> Stream:
    """The order's current state, then each committed change (SSE; the id is the version)."""
    order = parse_uuid(order_id, "order_id")
    last_seen = resume_point(last_event_id)
    hub: StreamHub = request.app.state.streams
    watcher = hub.open(order_key(order))
    return _stream(order_stream(hub, watcher, served_reads(request), order, last_seen))


@get(
    "/api/v1/customers/{customer_id:str}/stream",
    responses={**stream_ok("The customer's changed orders and summaries"), **STREAMS_BUSY},
)
async def stream_customer(
    request: AnyRequest, customer_id: CustomerId, last_event_id: LastEventId = None
) -> Stream:
    """The customer's orders and summary, then each change: the changed orders, then the new
    summary (SSE; the summary's id is the sum of the customer's order versions)."""
    customer = parse_uuid(customer_id, "customer_id")
    last_seen = resume_point(last_event_id)
    hub: StreamHub = request.app.state.streams
    watcher = hub.open(customer_scope(customer))
    return _stream(customer_stream(hub, watcher, served_reads(request), customer, last_seen))


STREAM_ROUTES = [stream_order, stream_customer]
