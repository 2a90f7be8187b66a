"""Route glue of gated reads (readside_query.gating): the served version's reads, once they
have applied what a request waits for (`min_offsets`, `min_version`, `wait`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request

from readside_query.etag import TaggedBody
from readside_query.gating import (
    Gate,
    GateConfig,
    Gates,
    NotReached,
    body_version,
    format_offsets,
    parse_gate,
)
from readside_query.live_version import LiveVersion
from readside_query.reads import OrderReads

AnyRequest = Request[Any, Any, Any]


def served_reads(request: AnyRequest) -> OrderReads:
    """The reads of the version served now: the whole request is answered from it."""
    live: LiveVersion = request.app.state.live
    return live.reads()


def gate_of(
    request: AnyRequest, min_offsets: str | None, wait: str | None, min_version: str | None = None
) -> Gate | None:
    config: GateConfig = request.app.state.gate_config
    return parse_gate(
        min_offsets,
        min_version,
        wait,
        default_wait=config.default_wait,
        max_wait=config.max_wait,
    )


async def offsets_reached(request: AnyRequest, reads: OrderReads, gate: Gate | None) -> None:
    """Return once the served version has stored offsets past the gate's (412 if not)."""
    if gate is None or gate.min_offsets is None:
        return
    wanted = {p: o + 1 for p, o in gate.min_offsets.items()}  # stored: the NEXT offset
    gates: Gates = request.app.state.gates
    config: GateConfig = request.app.state.gate_config
    live: LiveVersion = request.app.state.live
    version = live.read_model
    group = (version.consumer_group if version else None) or config.consumer_group

    async def done() -> bool:
        return gates.reached(wanted)

    async def refresh() -> None:
        gates.observe(await reads.stored_offsets(group, config.topic), orders_changed=False)

    if not await gates.until(done, refresh, gate.deadline):
        reached = {p: gates.offsets.get(p, 0) - 1 for p in gate.min_offsets}
        raise NotReached(
            {"min_offsets": format_offsets(gate.min_offsets)},
            {"min_offsets": format_offsets(reached)},
            retry_after=1,
        )


async def order_gated(
    request: AnyRequest,
    reads: OrderReads,
    gate: Gate | None,
    read: Callable[[], Awaitable[TaggedBody | None]],
) -> TaggedBody | None:
    """The order, once the gate is passed: offsets first, then its version."""
    await offsets_reached(request, reads, gate)
    if gate is None or gate.min_version is None:
        return await read()
    wanted = gate.min_version
    seen: list[TaggedBody | None] = [None]

    async def done() -> bool:
        seen[0] = await read()
        return seen[0] is not None and body_version(seen[0].body) >= wanted

    async def refresh() -> None:
        return None  # every push re-reads the order (through the caches) in `done`

    gates: Gates = request.app.state.gates
    if not await gates.until(done, refresh, gate.deadline):
        reached = body_version(seen[0].body) if seen[0] is not None else None
        raise NotReached({"min_version": wanted}, {"min_version": reached}, retry_after=1)
    return seen[0]


async def reads_after(request: AnyRequest, min_offsets: str | None, wait: str | None) -> OrderReads:
    """The reads of the version served, once it has applied `min_offsets` (if given)."""
    reads = served_reads(request)
    await offsets_reached(request, reads, gate_of(request, min_offsets, wait))
    return reads
