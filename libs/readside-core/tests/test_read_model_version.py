"""Read-model versions: their names and every cache key they own."""

from __future__ import annotations

import pytest

from readside_core.cache import Invalidation, invalidation_decoder, invalidation_encoder
from readside_core.read_model_version import (
    PUBLIC,
    SUMMARY_QUERY,
    InvalidSchemaName,
    check_schema_name,
    customer_scope,
    read_model_version,
    status_scope,
)

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


def test_the_whole_key_scheme_of_public_and_of_another_version() -> None:
    """Every key a version owns, in Redis and in process: the one place they are pinned."""
    order = "05b4c425-0bab-4f9f-a732-1d319cce12d5"
    customer = customer_scope("c")
    assert customer == "customer:c"
    assert status_scope("CREATED") == "status:CREATED"
    assert read_model_version("public") is PUBLIC
    expected = {
        "": PUBLIC,
        "rm_2:": read_model_version("rm_2"),
    }
    for prefix, version in expected.items():
        assert version.prefix == prefix
        assert version.order_key_head == f"{prefix}order:"
        assert version.order_key(order) == f"{prefix}order:{order}"
        assert version.number_key("ORD-1") == f"{prefix}order_number:ORD-1"
        assert version.generation_key(customer) == f"{prefix}gen:customer:c"
        assert version.page_head(customer) == f"{prefix}page:customer:c:"
        assert version.page_key(customer, 3, "limit=20&offset=0") == (
            f"{prefix}page:customer:c:3:limit=20&offset=0"
        )
        assert version.page_key(customer, 1, SUMMARY_QUERY) == f"{prefix}page:customer:c:1:summary"
        assert version.local_page_key(customer, "limit=20&offset=0") == (
            f"{prefix}page:customer:c:limit=20&offset=0"
        )
        assert version.local_scope(customer) == f"{prefix}customer:c"
    assert read_model_version("rm_2").key_patterns() == ("rm_2:*",)
    assert set(PUBLIC.key_patterns()) == {"order:*", "order_number:*", "page:*", "gen:*"}


def test_a_version_knows_its_consumer_group_when_it_is_given() -> None:
    assert PUBLIC.consumer_group is None
    version = read_model_version("rm_2", "readside-projection-rm_2")
    assert (version.schema, version.consumer_group) == ("rm_2", "readside-projection-rm_2")
    with pytest.raises(InvalidSchemaName):
        read_model_version("RM_2")


def test_a_message_without_a_schema_is_public_and_not_a_swap() -> None:
    old = invalidation_decoder.decode(b'{"orders":["a"],"scopes":[],"flush":false}')
    assert (old.schema, old.swap) == ("public", False)
    swap = Invalidation(orders=[], scopes=[], schema="rm_2", swap=True)
    assert invalidation_decoder.decode(invalidation_encoder.encode(swap)) == swap
