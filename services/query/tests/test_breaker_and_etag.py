"""The Redis circuit breaker, the rate-limited log, and ETag matching."""

from __future__ import annotations

import logging

import pytest

from readside_query.breaker import CircuitBreaker, RateLimitedLog
from readside_query.etag import TaggedBody, none_match

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_breaker_skips_calls_for_the_open_window_after_a_failure() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2.0, clock)
    assert breaker.allows()
    breaker.failed()
    assert not breaker.allows()
    clock.now += 1.9
    assert not breaker.allows()


def test_breaker_lets_one_probe_through_after_the_window_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2.0, clock)
    breaker.failed()
    clock.now += 2.1
    assert breaker.allows()  # the probe
    assert not breaker.allows()  # everyone else still skips while it runs
    breaker.succeeded()
    assert breaker.allows()


def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2.0, clock)
    breaker.failed()
    clock.now += 2.1
    assert breaker.allows()
    breaker.failed()
    clock.now += 1.0
    assert not breaker.allows()


def test_rate_limited_log_says_how_many_warnings_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    limited = RateLimitedLog(logging.getLogger("test.limited"), interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.limited"):
        assert limited.warning("redis down: %s", "x")
        assert not limited.warning("redis down: %s", "y")
        assert not limited.warning("redis down: %s", "z")
        clock.now += 10
        assert limited.warning("redis down: %s", "w")
    assert [r.getMessage() for r in caplog.records] == [
        "redis down: x",
        "redis down: w (2 similar messages suppressed)",
    ]


def test_etag_is_strong_and_changes_with_the_body() -> None:
    a, b = TaggedBody(b'{"version":1}'), TaggedBody(b'{"version":2}')
    assert a.etag[0] == a.etag[-1] == '"'
    assert a.etag != b.etag
    assert TaggedBody(b'{"version":1}').etag == a.etag


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x","y"', False),
        ("*", True),
        ('"ab"', False),
        ("abc", False),
    ],
)
def test_if_none_match_uses_weak_comparison_over_a_list(header: str | None, matches: bool) -> None:
    assert none_match(header, '"abc"') is matches
