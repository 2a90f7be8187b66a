"""Errors over HTTP against a real Granian process: 400s name the parameter, 404s, 405s, 414s
and 431s have the same JSON shape, no input gets a 500, and HEAD mirrors every GET."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from readside_query.request_shape import MAX_HEADER_BYTES, MAX_URI_BYTES

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/orders/{uuid4()}",
        f"/api/v1/customers/{uuid4()}/summary",
        "/api/v1/orders/number/ORD-000000000000",
        "/api/v1/nothing-here",
    ],
)
async def test_unknown_things_are_404_with_a_json_body(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["message"]


C = "6513270e-269e-4d37-b2a7-4de452e6b438"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/orders/not-a-uuid", "order_id"),
        ("/api/v1/customers/123/orders", "customer_id"),
        ("/api/v1/customers/123/summary", "customer_id"),
        (f"/api/v1/customers/{C}/orders?limit=0", "limit"),
        (f"/api/v1/customers/{C}/orders?limit=101", "limit"),
        (f"/api/v1/customers/{C}/orders?limit=ten", "limit"),
        (f"/api/v1/customers/{C}/orders?limit=", "limit"),
        (f"/api/v1/customers/{C}/orders?offset=-1", "offset"),
        (f"/api/v1/customers/{C}/orders?offset=1.5", "offset"),
        (f"/api/v1/customers/{C}/orders?offset=99999999999999999999", "offset"),
        ("/api/v1/orders/status/shipp%C3%A9d", "status"),
        ("/api/v1/orders/status/LOST", "status"),
        ("/api/v1/orders/status/SHIPPED?limit=1000", "limit"),
        ("/api/v1/orders/status/SHIPPED?created_from=yesterday", "created_from"),
        ("/api/v1/orders/status/SHIPPED?created_to=2024-03-01T09:00:00", "created_to"),
        (
            "/api/v1/orders/status/SHIPPED?created_from=2024-03-02T00:00:00Z"
            "&created_to=2024-03-01T00:00:00Z",
            "created_from",
        ),
        (f"/api/v1/customers/{C}/orders?min_total=abc", "min_total"),
        (f"/api/v1/customers/{C}/orders?max_total=-5", "max_total"),
        (f"/api/v1/customers/{C}/orders?max_total=NaN", "max_total"),
        (f"/api/v1/customers/{C}/orders?max_total=955040294720", "max_total"),  # found by fuzzing
        (f"/api/v1/customers/{C}/orders?min_total=10&max_total=5", "min_total"),
        ("/api/v1/orders/number/" + "X" * 51, "order_number"),
        ("/api/v1/orders/number/ORD%00", "order_number"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(
    api: httpx.AsyncClient, path: str, parameter: str
) -> None:
    response = await api.get(path)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "bad_request"
    assert parameter in body["message"]
    assert parameter in [d["parameter"] for d in body["detail"]]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/%FF%FE",
        "/api/v1/orders/number/%C3%A9%E2%82%AC",
        "/api/v1/orders/number/%F0%9F%92%A5",
        "/api/v1/orders/" + "a" * 5000,
        f"/api/v1/customers/{C}/orders?limit=1&limit=2",
        f"/api/v1/customers/{C}/orders?created_from=%00",
        f"/api/v1/customers/{C}/orders?min_total=1" + "0" * 400,
        "/api/v1/orders/status/%00",
        "/api/v1/customers/%20/summary",
        "/schema/openapi.json",
    ],
)
async def test_odd_input_never_gets_a_server_error(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]


async def test_methods_other_than_get_are_405_with_a_json_body(api: httpx.AsyncClient) -> None:
    response = await api.post(f"/api/v1/orders/{uuid4()}")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


async def test_a_uri_over_the_limit_is_414_with_the_json_error_body(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/v1/customers/{C}/orders?x=" + "a" * MAX_URI_BYTES)
    assert response.status_code == 414
    body = response.json()
    assert body["error"] == "uri_too_long"
    assert str(MAX_URI_BYTES) in body["message"]


async def test_headers_over_the_limit_are_431_with_the_json_error_body(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(f"/api/v1/orders/{uuid4()}", headers={"x-big": "a" * MAX_HEADER_BYTES})
    assert response.status_code == 431
    assert response.json()["error"] == "header_fields_too_large"


async def test_beyond_granians_own_header_count_limit_the_431_has_no_body(
    api: httpx.AsyncClient,
) -> None:
    """What the README says cannot carry the JSON body: hyper's limit, before any app code."""
    headers = {f"x-h{i}": "v" for i in range(120)}
    response = await api.get(f"/api/v1/orders/{uuid4()}", headers=headers)
    assert response.status_code == 431
    assert response.content == b""


def get_routes(api_document: dict[str, Any]) -> list[str]:
    """Every GET path of the OpenAPI document, with example values in its parameters."""
    values = {"order_id": str(uuid4()), "customer_id": C, "order_number": "ORD-1"}
    values |= {"status": "SHIPPED", "product_id": str(uuid4())}
    return [
        path.format(**values)
        for path, item in api_document["paths"].items()
        if "get" in item and not path.endswith("/stream")  # HEAD on streams: test_streams_http
    ]


async def test_head_answers_every_get_route_with_its_status_and_headers_and_no_body(
    api: httpx.AsyncClient,
) -> None:
    routes = get_routes((await api.get("/schema/openapi.json")).json())
    assert len(routes) >= 5
    for path in [*routes, "/livez", "/readyz", "/metrics", "/api/v1/nothing-here"]:
        get, head = await api.get(path), await api.head(path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
        if path != "/metrics":  # its figures move between the two requests
            assert head.headers.get("content-length") == get.headers.get("content-length"), path
