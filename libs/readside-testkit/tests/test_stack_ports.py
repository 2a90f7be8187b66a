"""hack/stack in a second clone whose default ports another process holds: the test kit's
stack draws free ports, records them and keeps using them; without the kit it refuses."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from readside_testkit.stack import REPO

pytestmark = pytest.mark.integration

DEFAULT_REDIS_PORT = 56379  # hack/stack/stack.sh's default


@pytest.fixture
def second_clone(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[Path]:
    """A copy of hack/stack sharing this clone's Kafka jars (so nothing is installed)."""
    shutil.copytree(REPO / "hack" / "stack", tmp_path / "hack" / "stack")
    (tmp_path / ".local" / "stack").mkdir(parents=True)
    (tmp_path / ".local" / "stack" / "dist").symlink_to(REPO / ".local" / "stack" / "dist")
    yield tmp_path
    run(tmp_path, "clean", free=False)


def run(clone: Path, *args: str, free: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("READSIDE_")}
    if free:
        env["READSIDE_STACK_PORTS"] = "free"
    script = clone / "hack" / "stack" / "stack.sh"
    return subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def default_redis_port_held() -> Iterator[None]:
    """The default Redis port listened on by someone else (unless it is already)."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", DEFAULT_REDIS_PORT))
        holder.listen()
    except OSError:
        pass  # held already (this clone's own stack on the defaults)
    yield
    holder.close()


def test_a_second_clone_refuses_a_held_default_port_naming_the_setting(
    second_clone: Path, default_redis_port_held: None
) -> None:
    done = run(second_clone, "start", "redis", free=False)
    assert done.returncode != 0
    assert f"127.0.0.1:{DEFAULT_REDIS_PORT} is already in use" in done.stderr
    assert "READSIDE_PG_PORT/_REDIS_PORT/_KAFKA_PORT" in done.stderr


def test_the_kits_stack_draws_free_ports_records_them_and_keeps_them(
    second_clone: Path, default_redis_port_held: None
) -> None:
    started = run(second_clone, "start", "redis", free=True)
    assert started.returncode == 0, started.stderr
    assert "held by another process" in started.stderr
    env = run(second_clone, "env", free=False).stdout
    redis_url = next(line for line in env.splitlines() if "REDIS_URL" in line)
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    assert port != DEFAULT_REDIS_PORT
    assert redis.Redis(port=port).ping()
    # A later command without the kit (make up, make down) uses the recorded ports.
    assert run(second_clone, "restart", "redis", free=False).returncode == 0
    assert redis.Redis(port=port).ping()
