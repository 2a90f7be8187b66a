"""The in-process cache: LRU bound, TTL, eviction by order and scope, and the fill guard."""

from __future__ import annotations

import pytest

from readside_core.cache import Invalidation, invalidation_encoder
from readside_core.read_model_version import read_model_version
from readside_query.local_cache import LocalCache
from readside_query.subscriber import apply_invalidation

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def live_cache(max_entries: int = 10, ttl: float = 60.0, clock: Clock | None = None) -> LocalCache:
    cache = LocalCache(max_entries, ttl, clock or Clock())
    cache.enable()
    return cache


def put(cache: LocalCache, key: str, value: object, scope: str | None = None) -> bool:
    guard = scope or key
    return cache.put(key, value, cache.ticket(guard), guard, scope=scope)


def test_a_stored_value_is_returned_until_its_ttl_expires() -> None:
    clock = Clock()
    cache = live_cache(ttl=300, clock=clock)
    assert put(cache, "order:a", b"A")
    clock.now += 299.9
    assert cache.get("order:a") == b"A"
    clock.now += 0.2
    assert cache.get("order:a") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    cache = live_cache(max_entries=2)
    put(cache, "order:a", 1)
    put(cache, "order:b", 2)
    assert cache.get("order:a") == 1  # a is now the most recently used
    put(cache, "order:c", 3)
    assert cache.get("order:b") is None
    assert (cache.get("order:a"), cache.get("order:c")) == (1, 3)


def test_invalidating_an_order_evicts_only_that_order() -> None:
    cache = live_cache()
    put(cache, "order:a", 1)
    put(cache, "order:b", 2)
    cache.invalidate(["order:a"], [])
    assert cache.get("order:a") is None
    assert cache.get("order:b") == 2


def test_invalidating_a_scope_evicts_all_its_pages_and_nothing_else() -> None:
    cache = live_cache()
    put(cache, "page:customer:1:limit=20&offset=0", b"p1", scope="customer:1")
    put(cache, "page:customer:1:summary", b"s1", scope="customer:1")
    put(cache, "page:customer:2:summary", b"s2", scope="customer:2")
    cache.invalidate([], ["customer:1"])
    assert cache.get("page:customer:1:limit=20&offset=0") is None
    assert cache.get("page:customer:1:summary") is None
    assert cache.get("page:customer:2:summary") == b"s2"


def test_a_fill_read_before_an_invalidation_is_not_stored() -> None:
    cache = live_cache()
    ticket = cache.ticket("order:a")  # ... reading PostgreSQL ...
    cache.invalidate(["order:a"], [])  # ... the projection's message arrives ...
    assert not cache.put("order:a", b"stale", ticket, "order:a")
    assert cache.get("order:a") is None
    assert put(cache, "order:a", b"fresh")  # a read started afterwards may fill


def test_a_page_fill_read_before_its_scope_was_invalidated_is_not_stored() -> None:
    cache = live_cache()
    ticket = cache.ticket("status:SHIPPED")
    cache.invalidate([], ["status:SHIPPED"])
    assert not cache.put(
        "page:status:SHIPPED:q", b"stale", ticket, "status:SHIPPED", "status:SHIPPED"
    )


def test_invalidating_other_keys_does_not_block_a_fill_unless_they_share_a_stripe() -> None:
    cache = live_cache()
    ticket = cache.ticket("order:a")
    cache.invalidate(["order:b"], ["customer:9"])
    stored = cache.put("order:a", b"A", ticket, "order:a")
    same_stripe = hash("order:a") % 4096 in {hash("order:b") % 4096, hash("customer:9") % 4096}
    assert stored is not same_stripe


def test_a_disabled_cache_stores_nothing_and_forgets_everything() -> None:
    cache = live_cache()
    put(cache, "order:a", 1)
    cache.disable()
    assert cache.get("order:a") is None
    assert not put(cache, "order:b", 2)


def test_fills_started_before_the_subscription_came_back_are_not_stored() -> None:
    cache = LocalCache(10, 60)
    ticket = cache.ticket("order:a")  # read while not subscribed: a message may have been missed
    cache.enable()
    assert not cache.put("order:a", b"maybe stale", ticket, "order:a")


def test_size_zero_means_never_enabled() -> None:
    cache = LocalCache(0, 60)
    cache.enable()
    assert not cache.enabled
    assert not put(cache, "order:a", 1)


def test_evicted_pages_leave_no_scope_bookkeeping_behind() -> None:
    cache = live_cache(max_entries=1)
    put(cache, "page:customer:1:q", b"1", scope="customer:1")
    put(cache, "page:customer:2:q", b"2", scope="customer:2")
    assert cache._scopes == {"customer:2": {"page:customer:2:q"}}


def test_an_invalidation_message_evicts_its_orders_and_scopes() -> None:
    cache = live_cache()
    put(cache, "order:11111111-1111-1111-1111-111111111111", 1)
    put(cache, "page:status:CREATED:q", b"p", scope="status:CREATED")
    put(cache, "order:22222222-2222-2222-2222-222222222222", 2)
    message = Invalidation(
        orders=["11111111-1111-1111-1111-111111111111"], scopes=["status:CREATED"]
    )
    assert apply_invalidation(cache, invalidation_encoder.encode(message)) == "applied"
    assert cache.get("order:11111111-1111-1111-1111-111111111111") is None
    assert cache.get("page:status:CREATED:q") is None
    assert cache.get("order:22222222-2222-2222-2222-222222222222") == 2


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        (invalidation_encoder.encode(Invalidation(orders=[], scopes=[], flush=True)), "flush"),
        (b"{not json", "undecodable"),
    ],
)
def test_a_flush_or_undecodable_message_empties_the_cache(data: bytes, outcome: str) -> None:
    cache = live_cache()
    put(cache, "order:a", 1)
    assert apply_invalidation(cache, data) == outcome
    assert len(cache) == 0


def test_messages_are_applied_only_to_the_served_read_model_and_in_its_namespace() -> None:
    cache = live_cache()
    order = "11111111-1111-1111-1111-111111111111"
    put(cache, f"order:{order}", "public")
    put(cache, f"rm_2:order:{order}", "rm_2")
    put(cache, "rm_2:page:status:CREATED:q", b"p", scope="rm_2:status:CREATED")
    rm_2 = read_model_version("rm_2")
    public_message = Invalidation(orders=[order], scopes=["status:CREATED"], flush=True)
    assert apply_invalidation(cache, invalidation_encoder.encode(public_message), rm_2) == (
        "other_read_model"
    )
    assert len(cache) == 3
    message = Invalidation(orders=[order], scopes=["status:CREATED"], schema="rm_2")
    assert apply_invalidation(cache, invalidation_encoder.encode(message), rm_2) == "applied"
    assert cache.get(f"rm_2:order:{order}") is None
    assert cache.get("rm_2:page:status:CREATED:q") is None
    assert cache.get(f"order:{order}") == "public"
    swap = Invalidation(orders=[], scopes=[], schema="rm_3", swap=True)
    assert apply_invalidation(cache, invalidation_encoder.encode(swap), rm_2) == "swap"
    assert apply_invalidation(cache, invalidation_encoder.encode(message), None) == (
        "other_read_model"
    )
