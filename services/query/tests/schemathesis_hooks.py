"""Hooks for the schemathesis run of test_schemathesis.py (SCHEMATHESIS_HOOKS).

OpenAPI cannot state a constraint between two parameters. The service answers 400 to an
inverted range (`created_from` after `created_to`, `min_total` above `max_total`), which the
parameter descriptions say; generating such queries as "valid" would only test the
generator, so they are left out here."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis

from readside_core.views import parse_time


def _inverted(low: Any, high: Any, parse: Any) -> bool:
    try:
        return bool(parse(str(low)) > parse(str(high)))
    except (ValueError, ArithmeticError, InvalidOperation, TypeError):
        return False  # unparsable: the service answers 400 for that parameter alone


@schemathesis.hook
def filter_case(ctx: Any, case: Any) -> bool:
    """Every phase (examples, coverage, fuzzing) asks this before sending a case."""
    query = case.query or {}
    pairs = (("created_from", "created_to", parse_time), ("min_total", "max_total", Decimal))
    return not any(
        low in query and high in query and _inverted(query[low], query[high], parse)
        for low, high, parse in pairs
    )
