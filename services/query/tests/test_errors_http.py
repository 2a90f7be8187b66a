"""Errors over HTTP against a real Granian process: 400s name the parameter, 404s and 405s
have the same JSON shape, and no input gets a 500."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

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
