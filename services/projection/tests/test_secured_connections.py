"""The projection and its admin commands through the local stack's secured listeners.

Kafka over SASL_SSL (SCRAM) and over SSL with a client certificate, PostgreSQL over TLS
(verify-full, a role refused without TLS), Redis over TLS with an ACL user; and what a user
sees when a setting is wrong: a not-ready probe and a log line naming the setting, the
process still running. No password of the stack ever shows in a log or a response.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from readside_core.connection_security import KafkaSecurity, RedisSecurity
from readside_core.fixtures import read_messages
from readside_core.read_model_version import PUBLIC
from readside_core.views import json_encoder, order_to_json
from readside_projection.events_tool import publish
from readside_testkit.ports import free_port
from readside_testkit.processes import LocalProcesses
from readside_testkit.secured import SecuredStack
from readside_testkit.waiting import eventually

pytestmark = pytest.mark.integration


def secured_env(harness: Any, secured: SecuredStack, listener: str, **extra: str) -> dict[str, str]:
    """The harness's projection settings with every connection secured."""
    return {
        **secured.kafka_env(listener),
        **secured.postgres_env(harness.database_url),
        **secured.redis_env(),
        **extra,
    }


def assert_no_password_in(secured: SecuredStack, *texts: str) -> None:
    for password in secured.passwords():
        for text in texts:
            assert password not in text


@pytest.mark.parametrize("listener", ["sasl_ssl", "ssl"])
async def test_the_sample_projects_exactly_over_secured_kafka_postgres_and_redis(
    harness: Any,
    secured: SecuredStack,
    sample_events_path: Path,
    sample_expected: dict[str, Any],
    listener: str,
) -> None:
    kafka = secured.kafka_env(listener)
    security = KafkaSecurity.from_env(kafka)
    messages = [*read_messages(sample_events_path), (b"bad", b"not json")]
    await publish(messages, brokers=kafka["KAFKA_BROKERS"], topic=harness.topic, security=security)
    ops = free_port()
    env = {**secured_env(harness, secured, listener, OPS_PORT=str(ops)), **secured.redis_env(9)}
    redis_security = RedisSecurity.from_env(env, env["REDIS_URL"])
    cache = aioredis.from_url(env["REDIS_URL"], **redis_security.client_kwargs())
    await cache.flushdb()  # this test's own database: only this projection fills it
    process = harness.projection(**env)
    await harness.wait_caught_up()  # read back over the plaintext listener of the same cluster
    model = await harness.read_model()  # written over PostgreSQL TLS (a TLS-only role)
    bodies = {k: json.loads(json_encoder.encode(order_to_json(v))) for k, v in model.orders.items()}
    assert bodies == sample_expected
    # The dead letter went out through the secured producer, the bodies through rediss.
    assert sum((await harness.end_offsets(f"{harness.topic}.dlq")).values()) == 1
    try:
        cached = await cache.exists(*(PUBLIC.order_key(k) for k in sample_expected))
    finally:
        await cache.aclose()
    assert cached == len(sample_expected)
    ready = await eventually(lambda: _get(ops, "/readyz"), 30, "the projection to be ready")
    assert ready.status_code == 200, ready.text
    metrics = _get_now(ops, "/metrics").text
    log = process.logs[-1].read_text()
    assert "consuming" in log
    assert_no_password_in(secured, log, metrics, ready.text)


def _attempts(process: Any) -> int:
    return int(process.logs[-1].read_text().count("Unable connect to"))


async def _get(port: int, path: str) -> httpx.Response | None:
    response = _get_now(port, path)
    return response if response.status_code == 200 else None


def _get_now(port: int, path: str) -> httpx.Response:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.TransportError as exc:
        return httpx.Response(599, text=str(exc))


def _misconfigured(secured: SecuredStack, tmp: Path, case: str) -> tuple[dict[str, str], str]:
    """Settings with one thing wrong, and the setting the user must be told to fix."""
    if case == "wrong password":
        wrong = tmp / "wrong.password"
        wrong.write_text("not-the-password\n")
        return {**secured.kafka_env("sasl_ssl"), "KAFKA_SASL_PASSWORD_FILE": str(wrong)}, (
            "KAFKA_SASL_PASSWORD_FILE"
        )
    if case == "wrong mechanism":
        return {**secured.kafka_env("sasl_ssl"), "KAFKA_SASL_MECHANISM": "PLAIN"}, (
            "KAFKA_SASL_MECHANISM=PLAIN"
        )
    if case == "untrusted CA":
        return {
            **secured.kafka_env("sasl_ssl"),
            "KAFKA_SSL_CAFILE": secured.file("other-ca.crt"),
        }, ("KAFKA_SSL_CAFILE")
    if case == "missing client certificate":
        return {**secured.kafka_env("ssl"), "KAFKA_SSL_CERTFILE": "", "KAFKA_SSL_KEYFILE": ""}, (
            "KAFKA_SSL_CERTFILE"
        )
    assert case == "untrusted PostgreSQL CA"
    return {"PGSSLROOTCERT": secured.file("other-ca.crt")}, "PGSSLROOTCERT"


@pytest.mark.parametrize(
    "case",
    [
        "wrong password",
        "wrong mechanism",
        "untrusted CA",
        "missing client certificate",
        "untrusted PostgreSQL CA",
    ],
)
async def test_a_wrong_setting_keeps_the_projection_running_not_ready_naming_the_setting(
    harness: Any, secured: SecuredStack, tmp_path: Path, case: str
) -> None:
    wrong, setting = _misconfigured(secured, tmp_path, case)
    ops = free_port()
    listener = "ssl" if wrong.get("KAFKA_SECURITY_PROTOCOL") == "SSL" else "sasl_ssl"
    env = {**secured_env(harness, secured, listener, OPS_PORT=str(ops)), **wrong}
    process = harness.projection(**env)

    async def says_why() -> str | None:
        body = _get_now(ops, "/readyz")
        return body.text if body.status_code == 503 and setting in body.text else None

    readyz = await eventually(says_why, 60, f"/readyz to name {setting}")
    if setting.startswith("KAFKA"):  # aiokafka logs each attempt: wait for a few of them
        await eventually(lambda: _attempts(process) >= 3, 30, "three connection attempts")
    # Not a crash loop: still running, and the cause logged once however often it retried.
    assert process.alive()
    log = process.logs[-1].read_text()
    ours = [line for line in log.splitlines() if setting in line and "retrying" in line]
    assert len(ours) == 1, ours
    assert_no_password_in(secured, log, readyz, _get_now(ops, "/metrics").text)


async def test_admin_commands_migrate_publish_and_reset_over_secured_connections(
    harness: Any, secured: SecuredStack, tmp_path: Path, sample_events_path: Path
) -> None:
    await harness.create_topic(2)
    env = {
        **secured_env(harness, secured, "sasl_ssl"),
        "KAFKA_TOPIC": harness.topic,
        "CONSUMER_GROUP": harness.group,
    }
    processes = LocalProcesses(env, tmp_path)
    migrated = processes.cli("migrate")  # Alembic over PostgreSQL TLS as the TLS-only role
    assert migrated.returncode == 0, migrated.stderr
    published = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "readside_projection.events_tool",
        "publish",
        str(sample_events_path),
        env={**os.environ, **env},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(published.communicate(), 120)
    published_stderr = err.decode()
    assert published.returncode == 0, published_stderr
    ends = await harness.end_offsets()
    assert sum(ends.values()) == len(list(read_messages(sample_events_path)))
    dry = processes.cli("reset", "--earliest", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    done = processes.cli("reset", "--earliest")
    assert done.returncode == 0, done.stderr
    assert await harness.stored_offsets() == {0: 0, 1: 0}  # written over PostgreSQL TLS
    wrong = processes.cli("reset", "--earliest", KAFKA_SSL_CAFILE=secured.file("other-ca.crt"))
    assert wrong.returncode == 1
    assert "KAFKA_SSL_CAFILE" in wrong.stderr
    outputs = [migrated.stderr, published_stderr, dry.stdout + dry.stderr, done.stderr]
    assert_no_password_in(secured, *outputs, wrong.stderr)
