"""Readiness: which dependency is down, and whether Redis counts."""

from __future__ import annotations

import pytest

from readside_query.probes import Readiness

pytestmark = pytest.mark.unit


def test_ready_when_both_are_up() -> None:
    readiness = Readiness(postgres=True, redis=True, redis_required=True)
    assert readiness.ready
    assert readiness.body() == {
        "status": "ready",
        "postgres": "up",
        "redis": "up",
        "down": [],
        "read_model": "public",
    }


def test_redis_down_makes_it_not_ready_by_default_and_says_so() -> None:
    readiness = Readiness(postgres=True, redis=False, redis_required=True)
    assert not readiness.ready
    assert readiness.body()["down"] == ["redis"]


def test_redis_down_is_reported_but_tolerated_when_not_required() -> None:
    readiness = Readiness(postgres=True, redis=False, redis_required=False)
    assert readiness.ready
    assert readiness.body()["redis"] == "down"


def test_postgres_down_is_never_ready() -> None:
    readiness = Readiness(postgres=False, redis=True, redis_required=False)
    assert not readiness.ready
    assert readiness.body() == {
        "status": "not_ready",
        "postgres": "down",
        "redis": "up",
        "down": ["postgres"],
        "read_model": "public",
    }


def test_not_ready_until_the_live_read_model_is_known() -> None:
    readiness = Readiness(postgres=True, redis=True, redis_required=True, read_model=None)
    assert not readiness.ready
    assert readiness.body()["read_model"] is None
    assert Readiness(True, True, True, "rm_2").body()["read_model"] == "rm_2"
