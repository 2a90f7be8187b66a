"""A round that fails unexpectedly is said where a user looks: a `RoundFailed` condition on
the resource and one Warning Event per distinct error, not only a log line every poll. The
next good round sets the condition back to False.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from readside_operator.kube import post_event
from readside_operator.resources import set_condition
from readside_operator.round_errors import CONDITION, ErrorMemory, describe
from readside_operator.runtime import Runtime

Log = logging.Logger | logging.LoggerAdapter[Any]


@dataclass(slots=True)
class RoundErrors:
    """Surfaces the failures of one resource's rounds on that resource."""

    rt: Runtime
    kind: str  # Projection or ProjectionReplay
    log: Log
    memory: ErrorMemory

    async def failed(self, body: dict[str, Any], exc: Exception) -> None:
        reason, message = describe(exc)
        if not self.memory.failed(message):
            self.log.warning("round failed again: %s", message)
            return
        self.log.exception("round failed; retrying: %s", message)
        post_event(body, CONDITION, message, warning=True)
        await self._condition(body, True, reason, message)

    async def succeeded(self, body: dict[str, Any]) -> None:
        if self.memory.succeeded():
            await self._condition(body, False, "RoundSucceeded", "the last round succeeded")

    async def _condition(self, body: dict[str, Any], failed: bool, reason: str, text: str) -> None:
        """Set the condition on the latest conditions (the round may have written some)."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            fresh = await self.rt.kube.get(self.kind, namespace, name) or body
            found = (fresh.get("status") or {}).get("conditions")
            now = datetime.now(UTC)
            conditions = set_condition(found, CONDITION, failed, reason, text, None, now)
            await self.rt.kube.patch_status(self.kind, namespace, name, {"conditions": conditions})
        except Exception as exc:  # e.g. the same 403: the Event and the log still say it
            self.log.warning("cannot set the %s condition: %s", CONDITION, exc)
