"""The OpenAPI document describes the bodies the API really sends (every route, every status)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        schema = document["components"]["schemas"][name]
    return schema


def shape_errors(
    document: dict[str, Any], schema: dict[str, Any], value: Any, at: str
) -> list[str]:
    """Where `value` breaks `schema` (types, required and undeclared properties, items)."""
    schema = _resolve(document, schema)
    if "oneOf" in schema or "anyOf" in schema:
        options = schema.get("oneOf") or schema["anyOf"]
        tries = [shape_errors(document, option, value, at) for option in options]
        return [] if any(not t for t in tries) else min(tries, key=len)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(
        isinstance(value, _JSON_TYPES[k]) and not (k in ("integer", "number") and value is True)
        for k in kinds
    ):
        return [f"{at}: {type(value).__name__} is not {kinds}"]
    errors: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        errors += [f"{at}.{k}: missing" for k in schema.get("required", []) if k not in value]
        errors += [f"{at}.{k}: not in the document" for k in value if k not in properties]
        for key, item in value.items():
            if key in properties:
                errors += shape_errors(document, properties[key], item, f"{at}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += shape_errors(document, schema["items"], item, f"{at}[{index}]")
    return errors


async def test_every_route_answers_with_the_shape_its_openapi_document_gives(
    api: httpx.AsyncClient, sample_expected: dict[str, Any]
) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    order = next(iter(sample_expected.values()))
    customer = order["customer_id"]
    calls = {
        ("/api/v1/orders/{order_id}", 200): f"/api/v1/orders/{order['order_id']}",
        ("/api/v1/orders/{order_id}", 400): "/api/v1/orders/not-a-uuid",
        ("/api/v1/orders/{order_id}", 404): "/api/v1/orders/00000000-0000-4000-8000-000000000000",
        ("/api/v1/orders/number/{order_number}", 200): (
            f"/api/v1/orders/number/{order['order_number']}"
        ),
        ("/api/v1/customers/{customer_id}/orders", 200): f"/api/v1/customers/{customer}/orders",
        ("/api/v1/customers/{customer_id}/orders", 400): (
            f"/api/v1/customers/{customer}/orders?limit=0"
        ),
        ("/api/v1/customers/{customer_id}/summary", 200): f"/api/v1/customers/{customer}/summary",
        ("/api/v1/orders/status/{status}", 200): f"/api/v1/orders/status/{order['status']}",
    }
    problems: list[str] = []
    for (route, status), url in calls.items():
        response = await api.get(url)
        assert response.status_code == status, (url, response.text)
        content = document["paths"][route]["get"]["responses"][str(status)]["content"]
        schema = content["application/json"]["schema"]
        problems += shape_errors(document, schema, response.json(), f"{url} {status}")
    assert not problems, "\n".join(problems)


def test_the_checker_notices_a_missing_an_undeclared_and_a_mistyped_field() -> None:
    document = {"components": {"schemas": {}}}
    schema = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
    }
    assert shape_errors(document, schema, {"a": 1, "b": "x"}, "$") == []
    assert shape_errors(document, schema, {"a": "1", "c": 2}, "$") == [
        "$.b: missing",
        "$.c: not in the document",
        "$.a: str is not ['integer']",
    ]
