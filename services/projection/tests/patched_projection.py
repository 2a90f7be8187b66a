"""`readside-projection run` with its decoder patched, for the tests that need another build.

    python patched_projection.py knows-order-created-v3   # the upgrade: a version 3 is known
    python patched_projection.py rejects-user-ids          # a bug: events with a user_id fail

The first stands for a projection released after the command side's version 3 (its upcaster
lifts v3, which only adds fields, like v2). The second is a decoder bug that dead-letters good
events; running the plain projection afterwards is the fix.
"""

from __future__ import annotations

import json
import sys

import msgspec

from readside_core import events
from readside_projection import batch
from readside_projection.cli import main


def knows_order_created_v3() -> None:
    entry = events.PayloadVersion(
        "OrderCreated", 3, events.OrderCreatedV2, events.upcast_order_created_v2
    )
    events.PAYLOAD_VERSIONS["OrderCreated"][3] = entry
    events._payload_decoders["OrderCreated", 3] = msgspec.json.Decoder(events.OrderCreatedV2)


def rejects_user_ids() -> None:
    decode = batch.decode_event

    def buggy(data: bytes) -> events.OrderEvent | events.UnknownEvent:
        try:
            user_id = json.loads(data).get("metadata", {}).get("user_id")
        except (ValueError, AttributeError):
            user_id = None
        if user_id is not None:
            raise events.InvalidEvent(f"metadata.user_id {user_id!r}: expected a UUID")
        return decode(data)

    batch.decode_event = buggy


if __name__ == "__main__":
    {"knows-order-created-v3": knows_order_created_v3, "rejects-user-ids": rejects_user_ids}[
        sys.argv[1]
    ]()
    main(["run"])
