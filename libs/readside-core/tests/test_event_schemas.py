"""The published JSON Schemas: current with the types, and the fixtures conform to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from readside_core.event_schemas import all_schemas, schema_file_name
from readside_core.events import PAYLOAD_VERSIONS, InvalidEvent, decode_event
from readside_core.fixtures import read_messages

pytestmark = pytest.mark.unit
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def _validator(event_type: str, version: int) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / schema_file_name(event_type, version)).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _errors(envelope: dict[str, Any]) -> list[str]:
    validator = _validator(envelope["event_type"], envelope["event_version"])
    return [e.message for e in validator.iter_errors(envelope)]


def test_the_committed_schemas_are_what_the_types_generate() -> None:
    generated = all_schemas()
    committed = {p.name: p.read_text() for p in SCHEMAS.glob("*.schema.json")}
    assert sorted(committed) == sorted(generated), "run: readside-events schemas " + str(SCHEMAS)
    stale = [name for name, text in generated.items() if committed[name] != text]
    assert not stale, f"stale, run `readside-events schemas {SCHEMAS}`: {stale}"


def test_there_is_one_schema_per_event_type_and_version() -> None:
    expected = {schema_file_name(t, v) for t, vs in PAYLOAD_VERSIONS.items() for v in vs}
    assert {p.name for p in SCHEMAS.glob("*.schema.json")} == expected
    assert "OrderCreated.v2.schema.json" in expected


@pytest.mark.parametrize("fixture", ["sample.events.jsonl", "event-versions.events.jsonl"])
def test_every_fixture_event_validates_against_its_version(
    sample_events_path: Path, fixture: str
) -> None:
    path = sample_events_path.parent / fixture
    seen = set()
    for _, value in read_messages(path):
        envelope = json.loads(value)
        seen.add((envelope["event_type"], envelope["event_version"]))
        assert _errors(envelope) == [], envelope["event_id"]
    assert seen


def _created(path: Path, version: int) -> dict[str, Any]:
    for _, value in read_messages(path):
        envelope: dict[str, Any] = json.loads(value)
        if envelope["event_type"] == "OrderCreated" and envelope["event_version"] == version:
            return envelope
    raise AssertionError(f"no OrderCreated v{version}")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["payload"].pop("shipping_address"),
        lambda e: e["payload"]["items"][0].pop("name"),
        lambda e: e["payload"]["shipping_address"].update(country="Germany"),
        lambda e: e["payload"].update(total_amount=-1),
        lambda e: e["payload"].update(total_amount=1e12),
        lambda e: e["payload"].update(currency="euro"),
        lambda e: e["payload"]["items"][0].update(quantity=0),
        lambda e: e.pop("event_id"),
    ],
)
def test_what_the_decoder_rejects_the_schema_rejects_too(
    event_versions_path: Path, mutate: Any
) -> None:
    envelope = _created(event_versions_path, 2)
    mutate(envelope)
    with pytest.raises(InvalidEvent):
        decode_event(json.dumps(envelope).encode())
    assert _errors(envelope)


def test_a_version_1_payload_does_not_pass_as_version_2(event_versions_path: Path) -> None:
    envelope = _created(event_versions_path, 1)
    envelope["event_version"] = 2
    assert any("shipping_address" in message for message in _errors(envelope))
