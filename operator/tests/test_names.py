"""Child names stay unique for every legal replay name (253 characters, dots included)."""

from __future__ import annotations

import re

import pytest

from readside_operator.names import child_name, label_value, schema_name
from readside_operator.replay.state import ChildNames

pytestmark = pytest.mark.unit

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LONGEST = "r" * 240 + ".replay-0001"  # 252
assert len(LONGEST + "x") == 253


@pytest.mark.parametrize("name", ["rebuild", "a" * 62, "a" * 63, LONGEST + "x", "re.build"])
def test_a_replays_jobs_and_shadow_never_share_a_name(name: str) -> None:
    names = ChildNames.of(name, "readside-projection")
    found = [names.reset, names.promote, names.drop, names.shadow]
    assert len(set(found)) == 4
    assert all(len(n) <= 63 and DNS_LABEL.fullmatch(n) for n in found)


def test_replays_differing_only_past_the_cut_or_by_a_dot_get_their_own_names() -> None:
    for one, other in [(LONGEST + "a", LONGEST + "b"), ("re.build", "re-build")]:
        assert child_name(one, "reset") != child_name(other, "reset")
        assert schema_name(one) != schema_name(other)
        assert label_value(one) != label_value(other)


def test_names_that_fit_stay_readable() -> None:
    assert ChildNames.of("bg", "bluegreen") == ChildNames(
        "bg-reset", "bg-promote", "bg-drop", "bluegreen-bg"
    )
    assert schema_name("bg") == "rm_bg"
    assert label_value("bg") == "bg"


def test_long_names_make_valid_schemas_groups_and_label_values() -> None:
    schema = schema_name(LONGEST + "x")
    assert len(schema) <= 63
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", schema)
    assert len(child_name("projection-service", LONGEST, limit=200)) <= 200
    value = label_value(LONGEST + "x")
    assert len(value) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?", value)
