"""The registry of read models beside the orders: ONE list, `READ_MODELS`.

`order_views` (and `consumer_offsets`) are the core every model is folded from; each entry
here adds tables (created by its migration), a pure `fold` of a batch's changed orders
(each before and after the batch) into what the batch adds to the model, a `merge` of two
such results (batches queued during a commit share one transaction), its part of the
batch's ONE statement (`ctes`: data-modifying CTEs, numbering their parameters from the
number given; `arguments`: those parameters for one fold's result), and the cache scopes
such a result touches (one set per batch, not per order). Everything that lists read-model
tables (`missing_tables`, `reset`, the exactness tests) and the projection's write path read
this list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from readside_core.views import OrderView

Change = tuple["OrderView | None", "OrderView"]


@dataclass(frozen=True, slots=True)
class ReadModel:
    name: str
    tables: tuple[str, ...]
    fold: Callable[[Sequence[Change]], Any]
    merge: Callable[[Any, Any], Any]
    ctes: Callable[[int], tuple[str, int]]  # (CTEs, how many parameters they take)
    arguments: Callable[[Any], list[Sequence[object]]]  # of what `fold` returned
    scopes: Callable[[Any], set[str]]  # of what `fold` returned


def registered() -> tuple[ReadModel, ...]:
    """Every registered read model (imported here, so that their modules may import this)."""
    from readside_core.products import PRODUCTS

    return (PRODUCTS,)


def registered_tables() -> tuple[str, ...]:
    return tuple(table for model in registered() for table in model.tables)
