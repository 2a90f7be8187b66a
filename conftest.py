"""Fixtures shared by every test tier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
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


# --- the local stack (hack/stack) for integration and e2e tests ---------------------------

STACK = REPO / "hack" / "stack" / "stack.sh"


def stack(*args: str) -> str:
    """Run hack/stack/stack.sh; tests use it to start, stop and restart servers."""
    done = subprocess.run(["bash", str(STACK), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """Bring the local stack up (idempotent); return DATABASE_URL, REDIS_URL, KAFKA_BROKERS."""
    stack("up")
    env: dict[str, str] = {}
    for line in stack("env").splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            env[name] = value.strip("'\"")
    return env


def migrate(database_url: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(REPO / "migrations" / "alembic.ini"),
            "upgrade",
            "head",
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def _fresh_database(admin: str) -> Iterator[str]:
    name = f"readside_test_{uuid.uuid4().hex[:8]}"
    base, _, _ = admin.rpartition("/")
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    url = f"{base}/{name}"
    migrate(url)
    yield url
    subprocess.run(
        ["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False
    )


@pytest.fixture(scope="session")
def database_url(stack_env: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    yield from _fresh_database(stack_env["DATABASE_URL"])


@pytest.fixture
def fresh_database_url(stack_env: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated database for one test (whole-table comparisons need isolation)."""
    yield from _fresh_database(stack_env["DATABASE_URL"])


@pytest.fixture(scope="session")
def redis_url(stack_env: dict[str, str]) -> str:
    return stack_env["REDIS_URL"]


@pytest.fixture(scope="session")
def stack_ctl(stack_env: dict[str, str]) -> Any:
    """`stack_ctl("stop", "redis")`, `stack_ctl("restart", "kafka")`... on the local stack."""
    return stack
