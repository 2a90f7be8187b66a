"""Parameter parsing: every bad value is a 400 that names the parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from readside_core.views import OrderStatus
from readside_query.errors import ApiError
from readside_query.params import (
    ListQuery,
    any_case_pattern,
    parse_list_query,
    parse_order_number,
    parse_status,
    parse_uuid,
)

pytestmark = pytest.mark.unit


def bad_parameters(excinfo: pytest.ExceptionInfo[ApiError]) -> list[str]:
    assert excinfo.value.status_code == 400
    return [d["parameter"] for d in excinfo.value.detail]


def test_defaults_are_limit_20_offset_0_and_no_filters() -> None:
    assert parse_list_query() == ListQuery(limit=20, offset=0)


@pytest.mark.parametrize(("limit", "expected"), [("1", 1), ("100", 100), ("007", 7)])
def test_limit_accepts_whole_numbers_from_1_to_100(limit: str, expected: int) -> None:
    assert parse_list_query(limit=limit).limit == expected


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5", "1e2", " 5", "+5", "5_0"])
def test_limit_outside_1_to_100_or_not_an_integer_is_rejected(limit: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(limit=limit)
    assert bad_parameters(excinfo) == ["limit"]


@pytest.mark.parametrize("offset", ["-1", "x", "99999999999999999999999"])
def test_negative_or_non_integer_or_huge_offset_is_rejected(offset: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(offset=offset)
    assert bad_parameters(excinfo) == ["offset"]


def test_every_bad_parameter_is_reported_at_once() -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(limit="0", offset="-3", created_from="yesterday", min_total="-1")
    assert bad_parameters(excinfo) == ["limit", "offset", "created_from", "min_total"]
    assert "limit must be between 1 and 100" in excinfo.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01T09:00:00Z", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01t09:00:00z", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T10:00:00+01:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T10:00:00 01:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),  # '+' sent unescaped
        ("2024-03-01T09:00:00.5Z", datetime(2024, 3, 1, 9, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_created_bounds_accept_rfc3339_with_timezone(raw: str, expected: datetime) -> None:
    assert parse_list_query(created_from=raw).filters.created_from == expected


@pytest.mark.parametrize(
    "raw",
    ["2024-03-01", "2024-03-01T09:00:00", "2024-13-01T09:00:00Z", "now", "2024-03-01T09:00Z"],
)
def test_created_bounds_without_timezone_or_malformed_are_rejected(raw: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(created_to=raw)
    assert bad_parameters(excinfo) == ["created_to"]


def test_created_from_after_created_to_is_rejected() -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(created_from="2024-03-02T00:00:00Z", created_to="2024-03-01T00:00:00Z")
    assert bad_parameters(excinfo) == ["created_from"]


@pytest.mark.parametrize(
    "raw", ["-1", "NaN", "Infinity", "1e3", "abc", "1.2.3", "1" * 11, "10.005", "10."]
)
def test_amount_bounds_must_be_plain_non_negative_decimals(raw: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(max_total=raw)
    assert bad_parameters(excinfo) == ["max_total"]


def test_min_total_above_max_total_is_rejected() -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_list_query(min_total="10", max_total="9.99")
    assert bad_parameters(excinfo) == ["min_total"]


def test_amount_bounds_accept_what_decimal_12_2_holds() -> None:
    query = parse_list_query(min_total="10.50", max_total="9999999999.99")
    assert query.filters.min_total == Decimal("10.50")
    assert query.filters.max_total == Decimal("9999999999.99")


def test_cache_query_is_canonical_for_equivalent_spellings() -> None:
    a = parse_list_query(limit="5", created_from="2024-03-01T10:00:00+01:00", min_total="10.50")
    b = parse_list_query(limit="05", created_from="2024-03-01T09:00:00.000Z", min_total="10.5")
    assert a.cache_query == b.cache_query
    assert (
        a.cache_query == "limit=5&offset=0&created_from=2024-03-01T09:00:00.000000Z&min_total=10.5"
    )


def test_cache_query_differs_when_any_parameter_differs() -> None:
    queries = {
        parse_list_query().cache_query,
        parse_list_query(limit="21").cache_query,
        parse_list_query(offset="1").cache_query,
        parse_list_query(created_to="2024-01-01T00:00:00Z").cache_query,
        parse_list_query(max_total="1").cache_query,
    }
    assert len(queries) == 5


def test_uuid_is_parsed_and_a_bad_one_names_the_parameter() -> None:
    assert parse_uuid("05b4c425-0bab-4f9f-a732-1d319cce12d5", "order_id") == UUID(
        "05b4c425-0bab-4f9f-a732-1d319cce12d5"
    )
    with pytest.raises(ApiError) as excinfo:
        parse_uuid("not-a-uuid", "customer_id")
    assert bad_parameters(excinfo) == ["customer_id"]
    assert "'not-a-uuid'" in excinfo.value.message


def test_status_is_accepted_in_any_ascii_case_as_the_seed_does() -> None:
    for raw in ("SHIPPED", "shipped", "Shipped"):
        assert parse_status(raw) is OrderStatus.SHIPPED
    for raw in ("LOST", "", "\u017fhipped"):  # long s: upper-cases to S, but is not ASCII
        with pytest.raises(ApiError) as excinfo:
            parse_status(raw)
        assert "CREATED, CONFIRMED, CANCELLED, SHIPPED, DELIVERED" in excinfo.value.message


def test_the_any_case_pattern_matches_exactly_the_words_in_any_ascii_case() -> None:
    pattern = re.compile(any_case_pattern(["SHIPPED", "CREATED"]))
    for raw in ("SHIPPED", "shipped", "sHiPpEd", "created"):
        assert pattern.match(raw)
    for raw in ("SHIPPEDX", "XSHIPPED", "SHIP", "", "SHIPPED|CREATED"):
        assert not pattern.match(raw)


@pytest.mark.parametrize("raw", ["", "x" * 51, "ORD-\x00", "ORD\n1"])
def test_order_number_must_be_1_to_50_printable_characters(raw: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_order_number(raw)
    assert bad_parameters(excinfo) == ["order_number"]


def test_long_values_are_cut_short_in_messages() -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_uuid("z" * 1000, "order_id")
    assert len(excinfo.value.message) < 120
