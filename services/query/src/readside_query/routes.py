"""HTTP routes: parse parameters, call one OrderReads method, map the result to a response."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.openapi.spec import Example, OpenAPIFormat, OpenAPIType
from litestar.params import PathParameter, QueryParameter
from litestar.response.base import ASGIResponse

from readside_core.views import OrderStatus
from readside_query.edge import if_none_match
from readside_query.errors import not_found
from readside_query.etag import TaggedBody, none_match
from readside_query.gated_reads import gate_of, order_gated, reads_after, served_reads
from readside_query.gating import MAX_MIN_VERSION, OFFSETS_PATTERN
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
from readside_query.params import (
    MAX_OFFSET,
    MAX_ORDER_NUMBER_LENGTH,
    any_case_pattern,
    parse_list_query,
    parse_order_number,
    parse_status,
    parse_uuid,
)

JSON = "application/json"
AnyRequest = Request[Any, Any, Any]


def _examples(examples: dict[str, Any]) -> list[Example] | None:
    return [Example(summary=name, value=value) for name, value in examples.items()] or None


def _query(description: str, examples: dict[str, Any] | None = None, **schema: Any) -> Any:
    # Parsed as text by readside_query.params (one place for every 400 message); the OpenAPI
    # schema states the real contract.
    return QueryParameter(
        description=description,
        examples=_examples(examples or {}),
        schema_extra={"oneOf": None, **schema},
    )


def _path(description: str, examples: dict[str, Any], **schema: Any) -> Any:
    return PathParameter(description=description, examples=_examples(examples), schema_extra=schema)


# The sample data's first order (e2e/fixtures): `make up` serves it, so the examples work.
SAMPLE_ORDER = "05b4c425-0bab-4f9f-a732-1d319cce12d5"
SAMPLE_CUSTOMER = "6513270e-269e-4d37-b2a7-4de452e6b438"
SAMPLE_NUMBER = "ORD-05b4c4250bab"


_TIME = {"type": OpenAPIType.STRING, "format": OpenAPIFormat.DATE_TIME}
_AMOUNT = {"type": OpenAPIType.STRING, "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$"}
Limit = Annotated[
    str | None,
    _query("Page size.", type=OpenAPIType.INTEGER, minimum=1, maximum=100, default=20),
]
Offset = Annotated[
    str | None,
    _query("Rows to skip.", type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_OFFSET, default=0),
]
CreatedFrom = Annotated[
    str | None,
    _query(
        "Created at or after (RFC 3339, with zone).",
        {"March 2024": "2024-03-01T00:00:00Z"},
        **_TIME,
    ),
]
CreatedTo = Annotated[
    str | None,
    _query(
        "Created at or before (RFC 3339, with zone).",
        {"March 2024": "2024-03-31T23:59:59Z"},
        **_TIME,
    ),
]
MinTotal = Annotated[str | None, _query("Smallest total_amount.", {"100": "100"}, **_AMOUNT)]
MaxTotal = Annotated[str | None, _query("Largest total_amount.", {"2500.50": "2500.50"}, **_AMOUNT)]
OrderId = Annotated[
    str, _path("The order's id.", {"sample order": SAMPLE_ORDER}, format=OpenAPIFormat.UUID)
]
CustomerId = Annotated[
    str,
    _path("The customer's id.", {"sample customer": SAMPLE_CUSTOMER}, format=OpenAPIFormat.UUID),
]
OrderNumber = Annotated[
    str,
    _path(
        f"1 to {MAX_ORDER_NUMBER_LENGTH} characters, none of them a control character.",
        {"sample order": SAMPLE_NUMBER},
        pattern=f"^[^\\x00-\\x1f\\x7f]{{1,{MAX_ORDER_NUMBER_LENGTH}}}$",
    ),
]
Status = Annotated[
    str,
    _path(
        "An order status, in any case (answers carry it upper case).",
        {"shipped": "SHIPPED"},
        pattern=any_case_pattern([s.value for s in OrderStatus]),
    ),
]
MinOffsets = Annotated[
    str | None,
    _query(
        "Read-after-write: answer once the projection has applied the records up to these "
        "offsets of its topic (PARTITION:OFFSET[,...], from the producer's acks; the offset "
        "of the record itself). 412 if not reached within `wait`.",
        type=OpenAPIType.STRING,
        pattern=OFFSETS_PATTERN,
        examples={"two partitions": "0:120,3:98"},
    ),
]
MinVersion = Annotated[
    str | None,
    _query(
        "Read-after-write: answer once the order's version is at least this (the version the "
        "command side reported). 412 if not reached within `wait`.",
        {"version 2": "2"},
        type=OpenAPIType.INTEGER,
        minimum=1,
        maximum=MAX_MIN_VERSION,
    ),
]
Wait = Annotated[
    str | None,
    _query(
        "Seconds a gated read (min_offsets, min_version) waits at most: default "
        "GATED_WAIT_SECONDS (5), capped at GATED_WAIT_MAX_SECONDS (30).",
        {"half a second": "0.5"},
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
    gate = gate_of(request, min_offsets, wait, min_version)
    order = parse_uuid(order_id, "order_id")
    reads = served_reads(request)
    tagged = await order_gated(request, reads, gate, lambda: reads.order(order))
    return order_response(request, tagged, f"order {order_id} not found")


@get("/api/v1/orders/number/{order_number:str}", responses=ORDER_RESPONSES)
async def get_order_by_number(
    request: AnyRequest,
    order_number: OrderNumber,
    min_version: MinVersion = None,
    min_offsets: MinOffsets = None,
    wait: Wait = None,
) -> ASGIResponse:
    """One order by its order number, with the same ETag as by id."""
    gate = gate_of(request, min_offsets, wait, min_version)
    number = parse_order_number(order_number)
    reads = served_reads(request)
    tagged = await order_gated(request, reads, gate, lambda: reads.order_by_number(number))
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
    reads = await reads_after(request, min_offsets, wait)
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
    reads = await reads_after(request, min_offsets, wait)
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
    reads = await reads_after(request, min_offsets, wait)
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
