"""Reading what a running service answers: a JSON body, a Prometheus sample."""

from __future__ import annotations

import re

import httpx


async def get_json(api: httpx.AsyncClient, path: str) -> dict[str, object]:
    """GET `path`; fail unless it answers 200; return the JSON body."""
    response = await api.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    body: dict[str, object] = response.json()
    return body


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total
