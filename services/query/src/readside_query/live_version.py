"""Which read-model version this process serves, and following the live pointer to the next.

A `ServedVersion` is one version as served here: an engine whose connections use its schema,
and an OrderReads whose keys are that version's. `LiveVersion` holds the current one
as a plain attribute, so choosing the version costs a request no I/O: a request takes it once
and is answered entirely from it, and the Edge's fast path reads its key prefix.

`ReadModelFollower` reads the live pointer at start, every READ_MODEL_POLL_SECONDS, and at
once when poked (a swap message on the invalidation channel). Reads are serialized in one
task, so a slow, older answer can never undo a newer one. On a change it builds the new
version, checks that its tables answer, swaps it in and empties the in-process cache in the
same step (no await in between), then disposes of the old engine once the reads that took
the old version are done. If the pointer cannot be read (PostgreSQL away) the current version
keeps being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from readside_core.connection_errors import explain_postgres_error
from readside_core.read_model_version import PUBLIC, ReadModelVersion, read_live_version
from readside_query.breaker import RateLimitedLog
from readside_query.errors import ApiError
from readside_query.local_cache import LocalCache
from readside_query.metrics import READ_MODEL, READ_MODEL_SWAPS
from readside_query.reads import OrderReads

log = logging.getLogger(__name__)
POINTER_TIMEOUT_SECONDS = 5.0
RETIRE_PATIENCE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ServedVersion:
    schema: str
    engine: AsyncEngine
    reads: OrderReads


class LiveVersion:
    """The version requests are served from; None until the pointer has been read once."""

    def __init__(self) -> None:
        self.version: ServedVersion | None = None
        self.order_key_head = PUBLIC.order_key_head  # for the Edge: it appends the order id

    @property
    def schema(self) -> str | None:
        return None if self.version is None else self.version.schema

    @property
    def read_model(self) -> ReadModelVersion | None:
        return None if self.version is None else self.version.reads.version

    def reads(self) -> OrderReads:
        version = self.version
        if version is None:
            raise ApiError(
                503,
                "the live read model is not known yet (PostgreSQL has not answered since this "
                "instance started); retry shortly",
            )
        return version.reads

    def swap(self, version: ServedVersion) -> ServedVersion | None:
        old, self.version = self.version, version
        self.order_key_head = version.reads.version.order_key_head
        return old


class ReadModelFollower:
    def __init__(
        self,
        live: LiveVersion,
        control: AsyncEngine,
        build: Callable[[str], ServedVersion],
        local: LocalCache,
        poll_seconds: float,
    ) -> None:
        self._live = live
        self._control = control  # reads the pointer (public.readside_live_read_model)
        self._build = build
        self._local = local
        self._poll_seconds = poll_seconds
        self._poked = asyncio.Event()
        self._retiring: set[asyncio.Task[None]] = set()
        self._log = RateLimitedLog(log)
        self.on_switch: Callable[[], None] = lambda: None  # e.g. forget the old offsets

    def poke(self) -> None:
        """Read the pointer now (a swap message arrived)."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self._poll_seconds)
            self._poked.clear()
            await self.refresh()

    async def refresh(self) -> None:
        """Read the pointer; switch if it names another version. Never raises."""
        try:
            async with asyncio.timeout(POINTER_TIMEOUT_SECONDS), self._control.connect() as conn:
                live = await read_live_version(conn)
        except Exception as exc:  # whatever the cause, keep serving what we serve
            self._log.warning(
                "cannot read the live read-model pointer, still serving %s: %s",
                self._live.schema or "nothing",
                explain_postgres_error(exc),
            )
            return
        if live.schema != self._live.schema:
            await self._switch(live.schema)

    async def _switch(self, schema: str) -> None:
        version: ServedVersion | None = None
        try:
            version = self._build(schema)
            # Also opens the new pool's first connection before any request needs it.
            async with asyncio.timeout(POINTER_TIMEOUT_SECONDS), version.engine.connect() as conn:
                await conn.execute(text("SELECT 1 FROM order_views LIMIT 1"))
        except Exception as exc:  # a live version that cannot be read is not switched to
            self._log.warning(
                "read model %s is live but cannot be read, still serving %s: %r",
                schema,
                self._live.schema or "nothing",
                exc,
            )
            if version is not None:
                await version.engine.dispose()
            return
        old = self._live.swap(version)
        # Same step as the swap: nothing cached from the old version survives it, and fills
        # of reads that took the old version are refused (new epoch).
        self._local.flush()
        self.on_switch()
        READ_MODEL.clear()
        READ_MODEL.labels(schema).set(1)
        READ_MODEL_SWAPS.inc()
        log.info("serving read model %s (was %s)", schema, old.schema if old else "nothing")
        if old is not None:
            task = asyncio.create_task(self._retire(old), name=f"retire-{old.schema}")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, old: ServedVersion) -> None:
        deadline = time.monotonic() + RETIRE_PATIENCE_SECONDS
        try:
            while old.reads.in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await old.engine.dispose()
        log.info("read model %s retired: its connections are closed", old.schema)

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._live.version is not None:
            await self._live.version.engine.dispose()
