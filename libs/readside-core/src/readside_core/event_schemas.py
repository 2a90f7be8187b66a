"""JSON Schemas of every event type and version, generated from the msgspec wire types.

One schema per (event_type, event_version): the whole envelope as published, with its
`event_type` and `event_version` fixed and its `payload` that version's wire type. They are
committed under libs/readside-core/schemas/ (`readside-events schemas` writes them; a test
checks they are current) so the command side can check its producer against them in CI.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from readside_core.events import MAX_AMOUNT, PAYLOAD_VERSIONS, RawEnvelope

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
# msgspec describes Decimal as a decimal string; the contract sends amounts as JSON numbers.
_DECIMAL = {"type": "string", "format": "decimal"}
_AMOUNT = {"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT)}


def _amounts_as_numbers(node: Any) -> Any:
    if isinstance(node, dict):
        if node == _DECIMAL:
            return dict(_AMOUNT)
        return {key: _amounts_as_numbers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_amounts_as_numbers(value) for value in node]
    return node


def event_schema(event_type: str, version: int) -> dict[str, Any]:
    """The JSON Schema of one event type's envelope in one version."""
    entry = PAYLOAD_VERSIONS[event_type][version]
    (envelope_ref, payload_ref), defs = msgspec.json.schema_components(
        [RawEnvelope, entry.wire_type], ref_template="#/$defs/{name}"
    )
    envelope = defs.pop(envelope_ref["$ref"].rsplit("/", 1)[-1])
    envelope["properties"].update(
        event_type={"const": event_type},
        event_version={"const": version},
        payload=payload_ref,
    )
    envelope.pop("title", None)
    envelope.pop("description", None)
    schema = {
        "$schema": DRAFT,
        "title": f"{event_type} version {version}",
        "description": f"A Kafka message value carrying {event_type}, event_version {version} "
        "(the order id is the message key).",
        **envelope,
        "$defs": dict(sorted(defs.items())),
    }
    return dict(_amounts_as_numbers(schema))


def schema_file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.schema.json"


def all_schemas() -> dict[str, str]:
    """File name -> file text, for every registered event type and version."""
    return {
        schema_file_name(event_type, version): json.dumps(
            event_schema(event_type, version), indent=2
        )
        + "\n"
        for event_type, versions in sorted(PAYLOAD_VERSIONS.items())
        for version in sorted(versions)
    }
