"""The docs UI at /schema works air-gapped: every asset it loads is served by the service."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_the_docs_ui_loads_only_assets_the_service_serves_itself(
    api: httpx.AsyncClient,
) -> None:
    page = await api.get("/schema")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "://" not in page.text  # no CDN, no absolute URL of any kind
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert {a.rsplit(".", 1)[1] for a in assets} == {"js", "css", "png"}
    for asset in assets:
        served = await api.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100, asset
    assert (await api.get("/schema/openapi.json")).json()["paths"]
