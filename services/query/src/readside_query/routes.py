"""HTTP routes: parse parameters, call one OrderReads method, map the result to a response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Request, get
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType
from litestar.params import PathParameter, QueryParameter
from litestar.response.base import ASGIResponse

from readside_core.views import OrderStatus
from readside_query.edge import if_none_match
from readside_query.errors import not_found
from readside_query.etag import TaggedBody, none_match
from readside_query.gating import (
    Gate,
    GateConfig,
    Gates,
    NotReached,
    body_version,
    format_offsets,
    parse_gate,
)
from readside_query.live_version import LiveVersion
from readside_query.openapi import (
    BAD_REQUEST,
    BUSY,
    NOT_FOUND,
    NOT_MODIFIED,
    NOT_REACHED,
    CustomerOrdersBody,
    CustomerSummaryBody,
    OrderBody,
    StatusOrdersBody,
    ok,
)
from readside_query.params import parse_list_query, parse_order_number, parse_status, parse_uuid
from readside_query.reads import OrderReads

JSON = "application/json"
AnyRequest = Request[Any, Any, Any]


def _query(description: str, **schema: Any) -> QueryParameter:
    # Parsed as text by readside_query.params (one place for every 400 message); the OpenAPI
    # schema states the real contract.
    return QueryParameter(description=description, schema_extra={"oneOf": None, **schema})


def _path(description: str, **schema: Any) -> PathParameter:
    return PathParameter(description=description, schema_extra=schema)


_TIME = {"type": OpenAPIType.STRING, "format": OpenAPIFormat.DATE_TIME}
_AMOUNT = {"type": OpenAPIType.STRING, "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$"}
Limit = Annotated[
    str | None,
    _query("Page size.", type=OpenAPIType.INTEGER, minimum=1, maximum=100, default=20),
]
Offset = Annotated[
    str | None, _query("Rows to skip.", type=OpenAPIType.INTEGER, minimum=0, default=0)
]
CreatedFrom = Annotated[str | None, _query("Created at or after (RFC 3339, with zone).", **_TIME)]
CreatedTo = Annotated[str | None, _query("Created at or before (RFC 3339, with zone).", **_TIME)]
MinTotal = Annotated[str | None, _query("Smallest total_amount.", **_AMOUNT)]
MaxTotal = Annotated[str | None, _query("Largest total_amount.", **_AMOUNT)]
OrderId = Annotated[str, _path("The order's id.", format=OpenAPIFormat.UUID)]
CustomerId = Annotated[str, _path("The customer's id.", format=OpenAPIFormat.UUID)]
OrderNumber = Annotated[str, _path("e.g. ORD-05b4c4250bab.", minLength=1, maxLength=50)]
Status = Annotated[str, _path("Exact, upper case.", enum=[s.value for s in OrderStatus])]
MinOffsets = Annotated[
    str | None,
    _query(
        "Read-after-write: answer once the projection has applied the records up to these "
        "offsets of its topic (PARTITION:OFFSET[,...], from the producer's acks; the offset "
        "of the record itself). 412 if not reached within `wait`.",
        type=OpenAPIType.STRING,
        pattern=r"^[0-9]+:[0-9]+(,[0-9]+:[0-9]+)*$",
        examples={"two partitions": {"value": "0:120,3:98"}},
    ),
]
MinVersion = Annotated[
    str | None,
    _query(
        "Read-after-write: answer once the order's version is at least this (the version the "
        "command side reported). 412 if not reached within `wait`.",
        type=OpenAPIType.INTEGER,
        minimum=1,
    ),
]
Wait = Annotated[
    str | None,
    _query(
        "Seconds a gated read (min_offsets, min_version) waits at most: default "
        "GATED_WAIT_SECONDS (5), capped at GATED_WAIT_MAX_SECONDS (30).",
        type=OpenAPIType.NUMBER,
        minimum=0,
    ),
]
GATED = {**NOT_REACHED, **BUSY}
ORDER_RESPONSES = {
    **ok(OrderBody, "The order"),
    **NOT_MODIFIED,
    **BAD_REQUEST,
    **NOT_FOUND,
    **GATED,
}


def _reads(request: AnyRequest) -> OrderReads:
    """The reads of the version served now: the whole request is answered from it."""
    live: LiveVersion = request.app.state.live
    return live.reads()


def _gate(
    request: AnyRequest, min_offsets: str | None, wait: str | None, min_version: str | None = None
) -> Gate | None:
    config: GateConfig = request.app.state.gate_config
    return parse_gate(
        min_offsets,
        min_version,
        wait,
        default_wait=config.default_wait,
        max_wait=config.max_wait,
    )


async def _offsets_reached(request: AnyRequest, reads: OrderReads, gate: Gate | None) -> None:
    """Return once the served version has stored offsets past the gate's (412 if not)."""
    if gate is None or gate.min_offsets is None:
        return
    wanted = {p: o + 1 for p, o in gate.min_offsets.items()}  # stored: the NEXT offset
    gates: Gates = request.app.state.gates
    config: GateConfig = request.app.state.gate_config
    live: LiveVersion = request.app.state.live
    version = live.read_model
    group = (version.consumer_group if version else None) or config.consumer_group

    async def done() -> bool:
        return gates.reached(wanted)

    async def refresh() -> None:
        gates.observe(await reads.stored_offsets(group, config.topic), orders_changed=False)

    if not await gates.until(done, refresh, gate.deadline):
        reached = {p: gates.offsets.get(p, 0) - 1 for p in gate.min_offsets}
        raise NotReached(
            {"min_offsets": format_offsets(gate.min_offsets)},
            {"min_offsets": format_offsets(reached)},
            retry_after=1,
        )


async def _order_gated(
    request: AnyRequest,
    reads: OrderReads,
    gate: Gate | None,
    read: Callable[[], Awaitable[TaggedBody | None]],
) -> TaggedBody | None:
    """The order, once the gate is passed: offsets first, then its version."""
    await _offsets_reached(request, reads, gate)
    if gate is None or gate.min_version is None:
        return await read()
    wanted = gate.min_version
    seen: list[TaggedBody | None] = [None]

    async def done() -> bool:
        seen[0] = await read()
        return seen[0] is not None and body_version(seen[0].body) >= wanted

    async def refresh() -> None:
        return None  # every push re-reads the order (through the caches) in `done`

    gates: Gates = request.app.state.gates
    if not await gates.until(done, refresh, gate.deadline):
        reached = body_version(seen[0].body) if seen[0] is not None else None
        raise NotReached({"min_version": wanted}, {"min_version": reached}, retry_after=1)
    return seen[0]


async def _reads_after(
    request: AnyRequest, min_offsets: str | None, wait: str | None
) -> OrderReads:
    """The reads of the version served, once it has applied `min_offsets` (if given)."""
    reads = _reads(request)
    await _offsets_reached(request, reads, _gate(request, min_offsets, wait))
    return reads


def _json(body: bytes) -> ASGIResponse:
    return ASGIResponse(body=body, media_type=JSON)


def order_response(request: AnyRequest, tagged: TaggedBody | None, missing: str) -> ASGIResponse:
    """200 with the body and its ETag, 304 if the client has it already, or 404."""
    if tagged is None:
        raise not_found(missing)
    if none_match(if_none_match(request.scope), tagged.etag):
        return ASGIResponse(status_code=304, headers={"etag": tagged.etag})
    return ASGIResponse(body=tagged.body, media_type=JSON, headers={"etag": tagged.etag})


@get("/api/v1/orders/{order_id:str}", responses=ORDER_RESPONSES)
async def get_order(
    request: AnyRequest,
    order_id: OrderId,
    min_version: MinVersion = None,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """One order by id, with a strong ETag (If-None-Match answers 304)."""
    # Local cache hits without a query string never get here: readside_query.edge answers them.
    gate = _gate(request, min_offsets, wait, min_version)
    order = parse_uuid(order_id, "order_id")
    reads = _reads(request)
    tagged = await _order_gated(request, reads, gate, lambda: reads.order(order))
    return order_response(request, tagged, f"order {order_id} not found")


@get("/api/v1/orders/number/{order_number:str}", responses=ORDER_RESPONSES)
async def get_order_by_number(
    request: AnyRequest,
    order_number: Annotated[str, PathParameter(description="e.g. ORD-05b4c4250bab")],
    min_version: MinVersion = None,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """One order by its order number, with the same ETag as by id."""
    gate = _gate(request, min_offsets, wait, min_version)
    number = parse_order_number(order_number)
    reads = _reads(request)
    tagged = await _order_gated(request, reads, gate, lambda: reads.order_by_number(number))
    return order_response(request, tagged, f"order number {order_number!r} not found")


@get(
    "/api/v1/customers/{customer_id:str}/orders",
    responses={**ok(CustomerOrdersBody, "A page of the customer's orders"), **BAD_REQUEST, **GATED},
)
async def list_customer_orders(
    request: AnyRequest,
    customer_id: CustomerId,
    limit: Limit = None,
    offset: Offset = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    min_total: MinTotal = None,
    max_total: MaxTotal = None,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """A customer's orders, newest first; `total` counts every match of the filters."""
    query = parse_list_query(limit, offset, created_from, created_to, min_total, max_total)
    customer = parse_uuid(customer_id, "customer_id")
    reads = await _reads_after(request, min_offsets, wait)
    return _json(await reads.customer_orders(customer, query))


@get(
    "/api/v1/orders/status/{status:str}",
    responses={**ok(StatusOrdersBody, "A page of orders in this status"), **BAD_REQUEST, **GATED},
)
async def list_orders_by_status(
    request: AnyRequest,
    status: Status,
    limit: Limit = None,
    offset: Offset = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    min_total: MinTotal = None,
    max_total: MaxTotal = None,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """Orders in one status (CREATED, CONFIRMED, CANCELLED, SHIPPED, DELIVERED), newest first."""
    query = parse_list_query(limit, offset, created_from, created_to, min_total, max_total)
    wanted = parse_status(status)
    reads = await _reads_after(request, min_offsets, wait)
    return _json(await reads.status_orders(wanted, query))


@get(
    "/api/v1/customers/{customer_id:str}/summary",
    responses={
        **ok(CustomerSummaryBody, "The customer's summary"),
        **BAD_REQUEST,
        **NOT_FOUND,
        **GATED,
    },
)
async def get_customer_summary(
    request: AnyRequest,
    customer_id: CustomerId,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """Order count by status, amount spent by currency, first and last order times."""
    customer = parse_uuid(customer_id, "customer_id")
    reads = await _reads_after(request, min_offsets, wait)
    body = await reads.customer_summary(customer)
    if body is None:
        raise not_found(f"no orders for customer {customer_id}")
    return _json(body)


ORDER_ROUTES = [
    get_order,
    get_order_by_number,
    list_customer_orders,
    list_orders_by_status,
    get_customer_summary,
]
