"""schemathesis, with every check, against a real query service holding the sample orders:
the OpenAPI document states what the server enforces, no check fails, and the fuzzer reaches
stored orders (the document's examples are the sample's ids)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from readside_testkit.processes import running_query_service

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def fuzzed_service(sample_env: dict[str, str]) -> Iterator[str]:
    """Gated reads wait 0.1 s at most: nothing projects here, so a gate is never reached."""
    gates = {"GATED_WAIT_SECONDS": "0.05", "GATED_WAIT_MAX_SECONDS": "0.1"}
    with running_query_service({**sample_env, **gates}) as base_url:
        yield base_url


def test_schemathesis_with_every_check_finds_no_failure_and_reaches_stored_orders(
    fuzzed_service: str,
) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    done = subprocess.run(
        [
            str(schemathesis),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{fuzzed_service}/schema/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            "20261206",
            # The change streams never end: they have a test of their own (test_streams_http).
            "--exclude-path-regex",
            "/stream$",
        ],
        env={**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(HERE)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    metrics = httpx.get(f"{fuzzed_service}/metrics").text
    for route in ("/api/v1/orders/{order_id}", "/api/v1/orders/number/{order_number}"):
        found = re.search(rf'route="{re.escape(route)}",status="200"}} ([0-9.]+)', metrics)
        assert found, f"no stored order read through {route}"
        assert float(found.group(1)) >= 1
