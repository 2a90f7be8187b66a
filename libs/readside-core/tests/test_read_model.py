"""Read-model version names and their cache namespaces."""

from __future__ import annotations

import pytest

from readside_core.cache import (
    PUBLIC_NAMESPACE,
    Invalidation,
    cache_namespace,
    invalidation_decoder,
    invalidation_encoder,
)
from readside_core.read_model import InvalidSchemaName, check_schema_name

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["public", "rm_replay_2", "_x", "a" * 63])
def test_lowercase_identifiers_name_a_version(name: str) -> None:
    assert check_schema_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "lowercase identifier"),
        ("RM_2", "lowercase identifier"),
        ("2rm", "lowercase identifier"),
        ("rm-2", "lowercase identifier"),
        ('rm"; DROP SCHEMA public; --', "lowercase identifier"),
        ("a" * 64, "lowercase identifier"),
        ("pg_temp", "reserved by PostgreSQL"),
        ("information_schema", "reserved by PostgreSQL"),
        ("order", "share Redis keys with public"),
        ("gen", "share Redis keys with public"),
    ],
)
def test_other_names_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(InvalidSchemaName, match=why):
        check_schema_name(name)


def test_public_keeps_the_seeds_keys_and_other_versions_get_a_prefix() -> None:
    order = "05b4c425-0bab-4f9f-a732-1d319cce12d5"
    assert cache_namespace("public") is PUBLIC_NAMESPACE
    assert PUBLIC_NAMESPACE.order_key(order) == f"order:{order}"
    assert PUBLIC_NAMESPACE.number_key("ORD-1") == "order_number:ORD-1"
    assert PUBLIC_NAMESPACE.page_key("status:CREATED", 3, "limit=20&offset=0") == (
        "page:status:CREATED:3:limit=20&offset=0"
    )
    rm = cache_namespace("rm_2")
    assert rm.order_key(order) == f"rm_2:order:{order}"
    assert rm.number_key("ORD-1") == "rm_2:order_number:ORD-1"
    assert rm.generation_key("customer:c") == "rm_2:gen:customer:c"
    assert rm.page_key("customer:c", 1, "summary") == "rm_2:page:customer:c:1:summary"
    assert rm.key_patterns() == ("rm_2:*",)
    assert set(PUBLIC_NAMESPACE.key_patterns()) == {
        "order:*",
        "order_number:*",
        "page:*",
        "gen:*",
    }


def test_a_message_without_a_schema_is_public_and_not_a_swap() -> None:
    old = invalidation_decoder.decode(b'{"orders":["a"],"scopes":[],"flush":false}')
    assert (old.schema, old.swap) == ("public", False)
    swap = Invalidation(orders=[], scopes=[], schema="rm_2", swap=True)
    assert invalidation_decoder.decode(invalidation_encoder.encode(swap)) == swap
