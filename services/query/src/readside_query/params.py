"""Parsing and checking request parameters: plain functions, no I/O.

Every parser raises `ApiError` (400) whose `detail` names each bad parameter. List queries
also get a canonical string (`ListQuery.cache_query`), the `query` part of cache page keys:
equal queries always give equal strings, whatever order or spelling the URL used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from readside_core.repository import NO_FILTERS, OrderFilters
from readside_core.views import OrderStatus, format_time, parse_time
from readside_query.errors import bad_request

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# PostgreSQL's OFFSET is a bigint: anything larger would fail in the database.
MAX_OFFSET = 2**63 - 1
MAX_ORDER_NUMBER_LENGTH = 50
STATUSES = ", ".join(s.value for s in OrderStatus)

_INTEGER = re.compile(r"-?[0-9]{1,30}")
# total_amount is DECIMAL(12,2): a bound with more digits would overflow in PostgreSQL.
_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
# A '+' in a query string decodes to a space: "…T10:00:00 01:00" meant "+01:00".
_PLUS_AS_SPACE = re.compile(r"(?<=[0-9]) (?=[0-9]{2}:[0-9]{2}$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def problem(parameter: str, source: str, message: str) -> dict[str, Any]:
    return {"parameter": parameter, "source": source, "message": message}


def parse_uuid(raw: str, parameter: str) -> UUID:
    try:
        if len(raw) > 45:
            raise ValueError
        return UUID(raw)
    except ValueError:
        raise bad_request(
            [problem(parameter, "path", f"{parameter} must be a UUID, got {_shown(raw)}")]
        ) from None


def parse_order_number(raw: str) -> str:
    if not 1 <= len(raw) <= MAX_ORDER_NUMBER_LENGTH or _CONTROL.search(raw):
        message = (
            f"order_number must be 1 to {MAX_ORDER_NUMBER_LENGTH} printable characters, "
            f"got {_shown(raw)}"
        )
        raise bad_request([problem("order_number", "path", message)])
    return raw


def parse_status(raw: str) -> OrderStatus:
    """Any ASCII case, as the seed (`shipped` is SHIPPED); anything else is a 400 that names
    the valid values."""
    try:
        return OrderStatus(raw.upper() if raw.isascii() else raw)
    except ValueError:
        message = f"status must be one of {STATUSES} (any case), got {_shown(raw)}"
        raise bad_request([problem("status", "path", message)]) from None


def any_case_pattern(words: list[str]) -> str:
    """An ECMA-262 pattern (JSON Schema has no case-insensitive flag) matching `words` in any
    ASCII case: ["ab"] -> ^([Aa][Bb])$."""
    spelled = ("".join(f"[{c.upper()}{c.lower()}]" for c in word) for word in words)
    return f"^({'|'.join(spelled)})$"


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    filters: OrderFilters = NO_FILTERS

    @property
    def cache_query(self) -> str:
        parts = [f"limit={self.limit}", f"offset={self.offset}"]
        f = self.filters
        if f.created_from is not None:
            parts.append(f"created_from={format_time(f.created_from)}")
        if f.created_to is not None:
            parts.append(f"created_to={format_time(f.created_to)}")
        if f.min_total is not None:
            parts.append(f"min_total={_canonical_decimal(f.min_total)}")
        if f.max_total is not None:
            parts.append(f"max_total={_canonical_decimal(f.max_total)}")
        return "&".join(parts)


def parse_list_query(
    limit: str | None = None,
    offset: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    min_total: str | None = None,
    max_total: str | None = None,
) -> ListQuery:
    """Check every list parameter; a 400 lists all the bad ones at once."""
    problems: list[dict[str, Any]] = []
    parsed_limit = _integer(problems, "limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT)
    parsed_offset = _integer(problems, "offset", offset, 0, 0, MAX_OFFSET)
    start = _time(problems, "created_from", created_from)
    end = _time(problems, "created_to", created_to)
    low = _amount(problems, "min_total", min_total)
    high = _amount(problems, "max_total", max_total)
    if start is not None and end is not None and start > end:
        problems.append(problem("created_from", "query", "created_from is after created_to"))
    if low is not None and high is not None and low > high:
        problems.append(problem("min_total", "query", "min_total is greater than max_total"))
    if problems:
        raise bad_request(problems)
    filters = OrderFilters(created_from=start, created_to=end, min_total=low, max_total=high)
    return ListQuery(parsed_limit, parsed_offset, filters)


def _integer(
    problems: list[dict[str, Any]],
    name: str,
    raw: str | None,
    default: int,
    minimum: int,
    maximum: int,
) -> int:
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        problems.append(problem(name, "query", f"{name} must be a whole number, got {_shown(raw)}"))
        return default
    value = int(raw)
    if not minimum <= value <= maximum:
        message = f"{name} must be between {minimum} and {maximum}, got {value}"
        problems.append(problem(name, "query", message))
        return default
    return value


def _time(problems: list[dict[str, Any]], name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_time(_PLUS_AS_SPACE.sub("+", raw.strip()))
    except ValueError:
        pass
    message = (
        f"{name} must be an RFC 3339 time with a timezone, like 2024-03-01T09:00:00Z, "
        f"got {_shown(raw)}"
    )
    problems.append(problem(name, "query", message))
    return None


def _amount(problems: list[dict[str, Any]], name: str, raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    if _AMOUNT.fullmatch(raw):
        return Decimal(raw)
    message = (
        f"{name} must be an amount like 100 or 99.95 (at most 10 digits, 2 decimals), "
        f"got {_shown(raw)}"
    )
    problems.append(problem(name, "query", message))
    return None


def _canonical_decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _shown(raw: str) -> str:
    """The offending value, quoted and cut short (it is echoed back to the caller)."""
    return repr(raw if len(raw) <= 60 else raw[:57] + "...")
