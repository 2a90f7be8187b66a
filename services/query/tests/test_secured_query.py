"""The query service over PostgreSQL TLS (verify-full, a TLS-only role) and Redis TLS with an
ACL user, from the local stack's secured listeners; and a wrong Redis password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import redis

from readside_core.connection_security import RedisSecurity
from readside_core.read_model_version import PUBLIC
from readside_core.views import OrderView
from readside_testkit.ports import free_port
from readside_testkit.processes import LocalProcesses, query_command
from readside_testkit.secured import SecuredStack
from readside_testkit.waiting import wait_until

pytestmark = pytest.mark.integration
SECURED_REDIS_DB = 8


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[LocalProcesses]:
    running = LocalProcesses({}, tmp_path)
    yield running
    running.stop()


def _start(processes: LocalProcesses, name: str, env: dict[str, str]) -> str:
    port = free_port()
    processes.start(name, query_command(), PORT=str(port), HOST="127.0.0.1", **env)
    return f"http://127.0.0.1:{port}"


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def test_orders_are_served_over_postgres_verify_full_and_cached_over_rediss(
    secured: SecuredStack,
    database_url: str,
    sample_views: dict[UUID, OrderView],
    processes: LocalProcesses,
    tmp_path: Path,
) -> None:
    env = {**secured.postgres_env(database_url), **secured.redis_env(SECURED_REDIS_DB)}
    base = _start(processes, "query", {**env, "LOG_LEVEL": "info"})
    ready = wait_until(
        lambda: (r := _get(base + "/readyz")) is not None and r.status_code == 200 and r,
        30,
        "the query service to be ready",
    )
    order_id = next(iter(sample_views))
    assert httpx.get(f"{base}/api/v1/orders/{order_id}", timeout=5).status_code == 200
    # The body went into Redis through the TLS port as the ACL user.
    kwargs = RedisSecurity.from_env(env, env["REDIS_URL"]).client_kwargs()
    client = redis.Redis.from_url(env["REDIS_URL"], **kwargs)
    try:
        assert wait_until(lambda: client.exists(PUBLIC.order_key(order_id)), 10, "the cache fill")
    finally:
        client.close()
    log = (tmp_path / "query.log").read_text()
    metrics = httpx.get(base + "/metrics", timeout=5).text
    for password in secured.passwords():
        assert password not in log + metrics + ready.text


def test_a_wrong_redis_password_is_not_ready_and_logged_naming_the_setting(
    secured: SecuredStack,
    database_url: str,
    sample_views: dict[UUID, OrderView],
    processes: LocalProcesses,
    tmp_path: Path,
) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    env = {
        **secured.postgres_env(database_url),
        **secured.redis_env(SECURED_REDIS_DB),
        "REDIS_PASSWORD_FILE": str(wrong),
    }
    base = _start(processes, "query", env)
    not_ready = wait_until(
        lambda: (r := _get(base + "/readyz")) is not None and r.status_code == 503 and r,
        30,
        "/readyz to say not ready",
    )
    assert not_ready.json()["down"] == ["redis"]
    log = tmp_path / "query.log"
    wait_until(lambda: "REDIS_PASSWORD_FILE" in log.read_text(), 10, "the log to name the setting")
    for password in secured.passwords():
        assert password not in log.read_text() + not_ready.text


def test_an_untrusted_postgres_ca_is_not_ready_and_logged_naming_the_setting(
    secured: SecuredStack,
    database_url: str,
    processes: LocalProcesses,
    tmp_path: Path,
) -> None:
    env = {
        **secured.postgres_env(database_url),
        **secured.redis_env(SECURED_REDIS_DB),
        "PGSSLROOTCERT": secured.file("other-ca.crt"),
    }
    base = _start(processes, "query", env)
    not_ready = wait_until(
        lambda: (r := _get(base + "/readyz")) is not None and r.status_code == 503 and r,
        30,
        "/readyz to say not ready",
    )
    assert "postgres" in not_ready.json()["down"]
    log = tmp_path / "query.log"
    wait_until(lambda: "set PGSSLROOTCERT" in log.read_text(), 10, "the log to name the setting")
    assert processes.running[-1].poll() is None  # serving its probes, not crashing
