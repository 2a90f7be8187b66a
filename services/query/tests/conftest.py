"""Fixtures for the query service's integration tests: a loaded database, a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.db import create_engine
from readside_core.views import OrderView
from readside_testkit.processes import running_query_service
from readside_testkit.read_model import fold_file, write_views

# Our own Redis database number: keys are fixed by the protocol, so this keeps them apart
# from other suites' (pub/sub channels are shared by all databases, which is harmless).
QUERY_TEST_REDIS_DB = 7


@pytest.fixture(scope="session")
def query_redis_url(redis_url: str) -> str:
    """This suite's Redis database, emptied first: bodies cached by an earlier run (of an
    older body shape, say) must not answer for this one."""
    base, _, _ = redis_url.rpartition("/")
    url = f"{base}/{QUERY_TEST_REDIS_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def sample_views(engine: AsyncEngine, sample_events_path: Path) -> dict[UUID, OrderView]:
    """The sample events folded and written to the session's database."""
    views = fold_file(sample_events_path)
    await write_views(engine, views.values())
    return views


@pytest.fixture(scope="session")
def sample_env(
    database_url: str, query_redis_url: str, sample_views: dict[UUID, OrderView]
) -> dict[str, str]:
    """The environment of a query service over the loaded sample."""
    return {"DATABASE_URL": database_url, "REDIS_URL": query_redis_url}


@pytest.fixture(scope="session")
def query_service(sample_env: dict[str, str]) -> Iterator[str]:
    """A real `readside-query` (Granian) over the loaded database; yields its base URL."""
    with running_query_service({**sample_env, "REDIS_BREAKER_SECONDS": "0.5"}) as base_url:
        yield base_url


@pytest.fixture
async def api(query_service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=query_service, timeout=10.0) as client:
        yield client
