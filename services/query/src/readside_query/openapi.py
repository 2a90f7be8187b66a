"""Response shapes for the OpenAPI document only: handlers return prebuilt bytes."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import msgspec
from litestar import Router
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router


class OrderBody(msgspec.Struct):
    order_id: str
    customer_id: str
    order_number: str
    status: str
    total_amount: float
    currency: str
    items: list[dict[str, Any]]
    shipping_address: dict[str, Any] | None
    tracking_number: str | None
    carrier: str | None
    created_at: str
    updated_at: str
    version: int


class CustomerOrdersBody(msgspec.Struct):
    orders: list[OrderBody]
    total: int
    limit: int
    offset: int


class StatusOrdersBody(msgspec.Struct):
    orders: list[OrderBody]
    status: str
    limit: int
    offset: int


class CustomerSummaryBody(msgspec.Struct):
    customer_id: str
    order_count: int
    orders_by_status: dict[str, int]
    spent_by_currency: dict[str, float]
    first_order_at: str
    last_order_at: str


class ErrorDetail(msgspec.Struct):
    parameter: str | None
    source: str | None
    message: str


class ErrorBody(msgspec.Struct):
    error: str
    message: str
    detail: list[ErrorDetail]


def ok(container: type, description: str) -> dict[int, ResponseSpec]:
    return {200: ResponseSpec(data_container=container, description=description)}


BAD_REQUEST = {400: ResponseSpec(data_container=ErrorBody, description="A bad parameter")}
NOT_FOUND = {404: ResponseSpec(data_container=ErrorBody, description="Not found")}
NOT_MODIFIED = {304: ResponseSpec(data_container=None, description="If-None-Match matched")}
NOT_REACHED = {
    412: ResponseSpec(
        data_container=ErrorBody,
        description="min_offsets or min_version not reached within `wait`: the detail says what "
        "was asked and what was reached; Retry-After says when to try again",
    )
}
BUSY = {
    503: ResponseSpec(
        data_container=ErrorBody,
        description="Too many gated reads waiting in this instance (GATED_MAX_WAITING), or "
        "PostgreSQL unavailable; Retry-After when it is the former",
    )
}

STREAMS_BUSY = {
    503: ResponseSpec(
        data_container=ErrorBody,
        description="This instance already serves STREAM_MAX streams; Retry-After says when to "
        "try again",
    )
}


def stream_ok(description: str) -> dict[int, ResponseSpec]:
    """200 for a change stream: Server-Sent Events (`event`, `id`, one line of JSON `data`)."""
    return {
        200: ResponseSpec(
            data_container=str, media_type="text/event-stream", description=description
        )
    }


# The docs UI's assets come from the installed swagger-ui-py package, never from a CDN: our
# users run air-gapped clusters.
SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/static"
ASSETS_DIR = Path(str(importlib.resources.files("swagger_ui") / "static"))


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        path=["/", "/swagger"],
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="Readside query service",
        version="1.0.0",
        description="Order read models (CQRS query side), cached in-process and in Redis.",
        path=SCHEMA_PATH,
        render_plugins=[swagger],
    )


def docs_assets() -> Router:
    """The docs UI's JavaScript, CSS and icon, served from the installed package."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[ASSETS_DIR], include_in_schema=False
    )
