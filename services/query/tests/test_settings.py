"""Settings: the seed's names and defaults, and a clear error for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from readside_core.settings import SettingsError
from readside_query.settings import QuerySettings

pytestmark = pytest.mark.unit

REQUIRED = {"DATABASE_URL": "postgres://u:p@db/orders", "REDIS_URL": "redis://cache:6379/0"}


def test_defaults_are_the_seeds() -> None:
    settings = QuerySettings.from_env(REQUIRED)
    assert (settings.cache_ttl_seconds, settings.port, settings.host) == (300, 8081, "0.0.0.0")
    assert (settings.workers, settings.local_cache_size, settings.otlp_endpoint) == (
        1,
        10_000,
        None,
    )


def test_every_setting_is_read_from_its_variable() -> None:
    env = {
        **REQUIRED,
        "CACHE_TTL_SECONDS": "60",
        "PORT": "9000",
        "HOST": "127.0.0.1",
        "WORKERS": "2",
        "LOG_LEVEL": "DEBUG",
        "LOCAL_CACHE_SIZE": "0",
        "DB_POOL_SIZE": "4",
        "REDIS_TIMEOUT_SECONDS": "0.1",
        "REDIS_BREAKER_SECONDS": "5",
        "READY_REQUIRES_REDIS": "0",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
    }
    settings = QuerySettings.from_env(env)
    assert settings == QuerySettings(
        database_url=REQUIRED["DATABASE_URL"],
        redis_url=REQUIRED["REDIS_URL"],
        cache_ttl_seconds=60,
        port=9000,
        host="127.0.0.1",
        workers=2,
        log_level="debug",
        local_cache_size=0,
        db_pool_size=4,
        redis_timeout_seconds=0.1,
        redis_breaker_seconds=5.0,
        ready_requires_redis=False,
        otlp_endpoint="http://otel:4318",
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DATABASE_URL", "", "DATABASE_URL is not set"),
        ("DATABASE_URL", "mysql://x/y", "not PostgreSQL"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL"),
        ("PORT", "http", "PORT='http' is not a whole number"),
        ("PORT", "70000", "PORT=70000"),
        ("CACHE_TTL_SECONDS", "0", "CACHE_TTL_SECONDS=0 is below the minimum of 1"),
        ("WORKERS", "0", "WORKERS=0"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud'"),
        ("READY_REQUIRES_REDIS", "maybe", "READY_REQUIRES_REDIS"),
    ],
)
def test_a_bad_setting_is_named_in_the_error(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        QuerySettings.from_env({**REQUIRED, name: value})


def test_the_entry_point_refuses_to_start_with_bad_settings() -> None:
    env = {**os.environ, **REQUIRED, "PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-m", "readside_query.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "PORT='eighty' is not a whole number" in done.stderr
    assert "Traceback" not in done.stderr
