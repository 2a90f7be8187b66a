"""The local stack (hack/stack: PostgreSQL, Redis, Kafka) and fresh, migrated databases on it.

The ports come from READSIDE_PG_PORT, READSIDE_REDIS_PORT and READSIDE_KAFKA_PORT when set
(stack.sh reads them). Otherwise the kit lets stack.sh draw free ports when another clone's
stack (or anything else) holds the defaults (READSIDE_STACK_PORTS=free), so `make test` and
`make e2e` run beside another clone's `make up`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
STACK = REPO / "hack" / "stack" / "stack.sh"


def stack(*args: str) -> str:
    """Run hack/stack/stack.sh (`stack("restart", "kafka")`...); return what it printed."""
    done = subprocess.run(
        ["bash", str(STACK), *args],
        env={**os.environ, "READSIDE_STACK_PORTS": "free"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


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
    """Run the Alembic migrations (migrations/) up to head on `database_url`."""
    alembic = [sys.executable, "-m", "alembic", "-c", str(REPO / "migrations" / "alembic.ini")]
    subprocess.run(
        [*alembic, "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def create_database(admin_url: str, prefix: str = "readside_test") -> str:
    """A new, migrated database on the server of `admin_url`; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    migrate(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    name = url.rpartition("/")[2]
    drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    subprocess.run(["psql", admin_url, "-qc", drop], check=False)


@contextmanager
def fresh_database(admin_url: str, prefix: str = "readside_test") -> Iterator[str]:
    """A new, migrated database for the `with` block, dropped afterwards."""
    url = create_database(admin_url, prefix)
    try:
        yield url
    finally:
        drop_database(admin_url, url)
