"""Fixtures shared by every test tier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent
FIXTURES = REPO / "e2e" / "fixtures"


@pytest.fixture(scope="session")
def sample_events_path() -> Path:
    return FIXTURES / "sample.events.jsonl"


@pytest.fixture(scope="session")
def sample_expected() -> dict[str, Any]:
    """The read model the sample events must produce, by order id."""
    expected: dict[str, Any] = json.loads((FIXTURES / "sample.expected.json").read_text())
    return expected
