"""Pure batch logic: decode a batch of Kafka records, fold it, and say what to write.

No I/O here. The consumer loop loads the current views, calls `plan_batch`, writes the plan in
one transaction, then acts on its dead letters, counts and cache scopes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from readside_core.events import (
    InvalidEvent,
    OrderCreated,
    OrderEvent,
    UnknownEvent,
    UnsupportedEventVersion,
    decode_event,
)
from readside_core.fold import FoldOutcome, fold_order_event
from readside_core.read_model_version import customer_scope, status_scope
from readside_core.read_models import registered
from readside_core.views import OrderView

TopicPartition = tuple[str, int]
READ_MODELS = registered()


@dataclass(frozen=True, slots=True)
class Record:
    """What the projection needs of one Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0  # the record's timestamp (the producer's clock: publish time)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    error: str


@dataclass(frozen=True, slots=True)
class Stall:
    """A partition stopped at `offset`: its record there has an event version newer than this
    code knows. Neither it nor anything after it in the partition is consumed."""

    offset: int
    reason: str


@dataclass(slots=True)
class DecodedBatch:
    events: list[tuple[Record, OrderEvent]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    unknown: list[UnknownEvent] = field(default_factory=list)
    stalled: dict[TopicPartition, Stall] = field(default_factory=dict)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    records: int = 0
    oldest_ms: int = 0  # the oldest record timestamp of the batch (0: none)

    @property
    def order_ids(self) -> set[UUID]:
        return {event.order_id for _, event in self.events}

    def new_order_numbers(self, of: set[UUID]) -> set[str]:
        """The order numbers the OrderCreated events of these orders claim."""
        return {
            e.payload.order_number
            for _, e in self.events
            if e.order_id in of and isinstance(e.payload, OrderCreated)
        }

    @property
    def created_first(self) -> set[UUID]:
        """The orders whose first event in this batch is their OrderCreated."""
        seen: set[UUID] = set()
        created: set[UUID] = set()
        for _, event in self.events:
            if event.order_id not in seen:
                seen.add(event.order_id)
                if isinstance(event.payload, OrderCreated):
                    created.add(event.order_id)
        return created


def decode_batch(records: Iterable[Record]) -> DecodedBatch:
    """Decode every record; bad ones become dead letters, unknown types are set aside.

    A record of a version newer than known stops its partition there (`stalled`): it and the
    partition's later records are left for a projection that knows the version, so no event of
    the same order is ever applied out of order or against an order never created."""
    batch = DecodedBatch()
    for record in records:
        tp = (record.topic, record.partition)
        if tp in batch.stalled:
            continue
        try:
            _decode_into(batch, record)
        except UnsupportedEventVersion as exc:
            batch.stalled[tp] = Stall(record.offset, exc.reason)
            continue
        batch.records += 1
        if record.timestamp_ms and (not batch.oldest_ms or record.timestamp_ms < batch.oldest_ms):
            batch.oldest_ms = record.timestamp_ms
        batch.next_offsets[tp] = max(batch.next_offsets.get(tp, 0), record.offset + 1)
    return batch


def _decode_into(batch: DecodedBatch, record: Record) -> None:
    if record.value is None:
        batch.dead_letters.append(DeadLetter(record, "empty message value (tombstone)"))
        return
    try:
        decoded = decode_event(record.value)
    except InvalidEvent as exc:
        batch.dead_letters.append(DeadLetter(record, exc.reason))
        return
    if isinstance(decoded, UnknownEvent):
        batch.unknown.append(decoded)
    else:
        batch.events.append((record, decoded))


@dataclass(slots=True)
class BatchPlan:
    """The result of folding one batch: what to write, dead-letter, count and invalidate."""

    changed: dict[UUID, OrderView] = field(default_factory=dict)
    created: set[UUID] = field(default_factory=set)  # not in the database before this batch
    # Each changed order as it was before the plan (None: created): the registered read
    # models (readside_core.read_models) add what changed from it to the changed view.
    before: dict[UUID, OrderView | None] = field(default_factory=dict)
    folded: list[Any] = field(default_factory=list)  # per READ_MODELS: what the plan adds
    dead_letters: list[DeadLetter] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    scopes: set[str] = field(default_factory=set)
    missing: list[OrderEvent] = field(default_factory=list)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    records: int = 0
    oldest_ms: int = 0

    def changes(self) -> list[tuple[OrderView | None, OrderView]]:
        """Every changed order: (before the plan, after it)."""
        return [(self.before.get(order_id), view) for order_id, view in self.changed.items()]

    def absorb(self, later: BatchPlan) -> None:
        """Add a plan folded after this one (on top of its views): one transaction for both.

        Dead letters and counts were acted on when each plan was made; only what is written
        and invalidated is merged.
        """
        self.changed.update(later.changed)
        self.created |= later.created
        for order_id, view in later.before.items():
            self.before.setdefault(order_id, view)
        if not self.folded:
            self.folded = later.folded
        elif later.folded:
            pairs = zip(READ_MODELS, self.folded, later.folded, strict=True)
            self.folded = [model.merge(mine, theirs) for model, mine, theirs in pairs]
        self.scopes |= later.scopes
        self.next_offsets.update(later.next_offsets)
        self.records += later.records
        if later.oldest_ms and (not self.oldest_ms or later.oldest_ms < self.oldest_ms):
            self.oldest_ms = later.oldest_ms


def plan_batch(
    batch: DecodedBatch,
    current: Mapping[UUID, OrderView],
    number_owners: Mapping[str, UUID],
) -> BatchPlan:
    """Fold the batch over the current views.

    `number_owners` maps order numbers already stored to their order: an OrderCreated whose
    number belongs to another order cannot be stored (order_number is UNIQUE), so it is
    dead-lettered with a reason instead of failing the whole transaction.
    """
    plan = BatchPlan(
        dead_letters=list(batch.dead_letters),
        next_offsets=dict(batch.next_offsets),
        records=batch.records,
        oldest_ms=batch.oldest_ms,
    )
    plan.outcomes["skipped_unknown"] = len(batch.unknown)
    owners = dict(number_owners)
    for record, event in batch.events:
        view = plan.changed.get(event.order_id) or current.get(event.order_id)
        payload = event.payload
        if isinstance(payload, OrderCreated) and view is None:
            owner = owners.get(payload.order_number)
            if owner is not None and owner != event.order_id:
                reason = f"order_number {payload.order_number} already belongs to order {owner}"
                plan.dead_letters.append(DeadLetter(record, reason))
                continue
            owners[payload.order_number] = event.order_id
        _fold_into(plan, view, event, created=view is None and event.order_id not in current)
    plan.outcomes["dead_lettered"] = len(plan.dead_letters)
    plan.scopes.update({customer_scope(view.customer_id) for view in plan.changed.values()})
    changes = plan.changes()
    for model in READ_MODELS:
        folded = model.fold(changes)
        plan.folded.append(folded)
        plan.scopes.update(model.scopes(folded))
    return plan


def _fold_into(plan: BatchPlan, view: OrderView | None, event: OrderEvent, created: bool) -> None:
    """Fold one event on `view` (None: the order is not known) and note what it changed."""
    result = fold_order_event(view, event)
    plan.outcomes[result.outcome] += 1
    if result.outcome is FoldOutcome.MISSING_ORDER:
        plan.missing.append(event)
    if result.outcome is FoldOutcome.APPLIED and result.view is not None:
        if view is not None:
            plan.scopes.add(status_scope(view.status))
        elif created:
            plan.created.add(event.order_id)
        plan.scopes.add(status_scope(result.view.status))
        plan.before.setdefault(event.order_id, view)
        plan.changed[event.order_id] = result.view
