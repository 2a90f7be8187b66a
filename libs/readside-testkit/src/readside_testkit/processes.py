"""The read side's processes run locally, as tests and benchmarks start them: the projection
(its CLI) and the query service (real Granian), each logging to a file of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import IO

import httpx
import redis

from readside_testkit.ports import free_port
from readside_testkit.waiting import wait_until


def projection_command(*args: str) -> list[str]:
    """`readside-projection ARGS...` with this interpreter (`run`, `migrate`, `promote`...)."""
    return [sys.executable, "-m", "readside_projection.cli", *args]


def query_command() -> list[str]:
    """`readside-query` (Granian) with this interpreter; PORT and HOST come from the env."""
    return [sys.executable, "-m", "readside_query.main"]


def isolated_env(stack_env: dict[str, str], database_url: str, redis_db: int) -> dict[str, str]:
    """The read side's environment on the local stack with a topic and a consumer group of its
    own, `database_url`, and Redis database `redis_db`, emptied (cache keys are per
    deployment, not per topic)."""
    redis_url = stack_env["REDIS_URL"].rpartition("/")[0] + f"/{redis_db}"
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    suffix = uuid.uuid4().hex[:8]
    return {
        **stack_env,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "KAFKA_TOPIC": f"order-events-{suffix}",
        "CONSUMER_GROUP": f"projection-{suffix}",
        "OPS_PORT": "0",
        "BATCH_TIMEOUT_MS": "20",
    }


class LocalProcesses:
    """Processes started with one environment (plus extras each), logs in `logs/NAME.log`;
    `stop()` terminates every one still running and waits for it."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            command, env={**os.environ, **self.env, **extra}, stdout=log, stderr=log
        )
        self.running.append(proc)
        return proc

    def projection(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(name, projection_command("run"), **extra)

    def query(self, name: str, port: int, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(name, query_command(), PORT=str(port), **extra)

    def cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """A one-off `readside-projection ARGS...` (migrate, reset, promote...), its output."""
        return subprocess.run(
            projection_command(*args),
            env={**os.environ, **self.env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stop(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.running:
            proc.wait(timeout=30)


@contextmanager
def running_server(
    command: list[str],
    env: dict[str, str],
    ready_path: str = "/readyz",
    within: float = 60.0,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Start a server on a free port (PORT and HOST in its environment, `{port}` in its
    command replaced); yield its base URL once `ready_path` answers 200; stop it after."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        env={**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"},
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = partial(_ready, process, log, base + ready_path)
        wait_until(ready, within, f"{base} to be ready", interval=0.1)
        yield base
    finally:
        _stop(process)
        log.close()


def running_query_service(env: dict[str, str], within: float = 30.0) -> AbstractContextManager[str]:
    """`readside-query` on a free port, logging at warning unless `env` says otherwise."""
    return running_server(query_command(), {"LOG_LEVEL": "warning", **env}, "/readyz", within)


def _ready(process: subprocess.Popen[bytes], log: IO[bytes], url: str) -> bool:
    if process.poll() is not None:
        log.seek(0)
        output = log.read().decode(errors="replace")
        raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{output}")
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
