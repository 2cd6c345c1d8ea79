"""A partition processor's state as JSON-ready values, and back: the body of a checkpoint.

What is kept is what the next event's outputs depend on, and nothing derived:

- every order held: its distinct events in sort order (the ledger refolds them on restore,
  which gives the state, the fold memo and the derived fills any arrival order gives);
- the evicted order keys with their eviction time (dedupe memory for finished orders);
- every position ledger: its base (fills compacted into it), horizon, compacted fill ids and
  the fills after the base, and its version;
- the reorder buffer (events not yet released to the canonical log), the watermark, the
  eviction schedule, the offset after the last record folded and the version base.

Events, fills and positions use the canonical codec (pipeline/codec.py), so a checkpoint
reads like the output topics. `STATE_VERSION` names this layout; a body of another version is
refused by `restore_processor` (never guessed at).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.codec import (
    event_from_dict,
    event_to_dict,
    fill_from_dict,
    fill_to_dict,
    position_from_dict,
    position_to_dict,
)
from pipeline.domain.book import BookState, TradingBook
from pipeline.domain.events import TERMINAL_STATUSES
from pipeline.domain.positions import PositionLedgerState
from pipeline.errors import BadInputError, CheckpointError
from pipeline.streams.processor import PartitionProcessor, ProcessingSettings

STATE_VERSION = 1


def processor_state(processor: PartitionProcessor) -> dict[str, Any]:
    """The processor's whole state as JSON-ready values."""
    book = processor.book.export()
    max_event_time, counter, entries = processor.reorder.export()
    return {
        "state_version": STATE_VERSION,
        "topic": processor.topic,
        "partition": processor.partition,
        "next_offset": processor.next_offset,
        "version_base": processor.version_base,
        "last_eviction": processor._last_eviction,
        "evict_at": processor._evict_at,
        "reorder": {
            "max_event_time": max_event_time,
            "counter": counter,
            "entries": [
                [time, tie, count, event_to_dict(event), late, offset]
                for time, tie, count, (event, late, offset) in entries
            ],
        },
        "orders": [[*key, [event_to_dict(e) for e in events]] for key, events in book.orders],
        "evicted": [[*key, at] for key, at in book.evicted],
        "positions": [_position_ledger(p) for p in book.positions],
        "counters": list(book.counters),
    }


def restore_processor(state: dict[str, Any], settings: ProcessingSettings) -> PartitionProcessor:
    """The processor `processor_state` described; `CheckpointError` if it cannot be read."""
    version = state.get("state_version") if isinstance(state, dict) else None
    if version != STATE_VERSION:
        raise CheckpointError(
            f"processor state version {version!r} is not the one this release reads "
            f"({STATE_VERSION})"
        )
    try:
        processor = PartitionProcessor(state["topic"], state["partition"], settings)
        book = BookState(
            [
                ((v, a, o), [event_from_dict(e) for e in events])
                for v, a, o, events in state["orders"]
            ],
            [((v, a, o), at) for v, a, o, at in state["evicted"]],
            [_restore_position_ledger(p) for p in state["positions"]],
            tuple(state["counters"]),
        )
        processor.book = TradingBook.restore(book, settings.tombstone_ms)
        reorder = state["reorder"]
        processor.reorder.restore(
            reorder["max_event_time"],
            reorder["counter"],
            [
                (time, tie, count, (event_from_dict(event), late, offset))
                for time, tie, count, event, late, offset in reorder["entries"]
            ],
        )
        processor.next_offset = state["next_offset"]
        processor.version_base = state["version_base"]
        processor._last_eviction = state["last_eviction"]
        processor._evict_at = state["evict_at"]
    except (KeyError, TypeError, ValueError, BadInputError) as exc:
        raise CheckpointError(f"processor state is malformed: {type(exc).__name__}: {exc}") from exc
    return processor


def _position_ledger(ledger: PositionLedgerState) -> dict[str, Any]:
    return {
        "key": list(ledger.key),
        "version": ledger.version,
        "late_fills": ledger.late_fills,
        "base": position_to_dict(ledger.base),
        "horizon": None if ledger.horizon is None else list(ledger.horizon),
        "compacted": [list(item) for item in ledger.compacted],
        "fills": [fill_to_dict(fill) for fill in ledger.fills],
    }


def _restore_position_ledger(obj: dict[str, Any]) -> PositionLedgerState:
    venue, account, symbol = obj["key"]
    horizon = obj["horizon"]
    return PositionLedgerState(
        (venue, account, symbol),
        obj["version"],
        obj["late_fills"],
        position_from_dict(obj["base"]),
        None if horizon is None else (horizon[0], horizon[1], horizon[2]),
        [(o, t, at) for o, t, at in obj["compacted"]],
        [fill_from_dict(fill) for fill in obj["fills"]],
    )


#: (venue, account) -> {order id: venue symbol}
LiveOrderIndex = dict[tuple[str, str], dict[str, str]]


def live_orders(states: Iterable[dict[str, Any]], settings: ProcessingSettings) -> LiveOrderIndex:
    """The orders the processor states believe live: held and not finished, or only heard
    of in the reorder buffer (not yet released) and not finished there.

    After a restart on a broker that kept nothing, these are the orders whose end may have
    happened in records no checkpoint holds: an ingestor that starts knowing them asks the
    venue about each one it no longer lists as open (`Ingestor.recover`).
    """
    out: LiveOrderIndex = {}
    for state in states:
        processor = restore_processor(state, settings)
        finished: set[tuple[str, str, str]] = set()
        for order in processor.book.orders():
            key = (order.venue, order.account, order.order_id)
            if order.status in TERMINAL_STATUSES:
                finished.add(key)
            else:
                out.setdefault((order.venue, order.account), {})[order.order_id] = (
                    order.venue_symbol
                )
        for _, _, _, (event, _, _) in processor.reorder.export()[2]:
            key = (event.venue, event.account, event.order_id)
            if key not in finished and event.status not in TERMINAL_STATUSES:
                out.setdefault((event.venue, event.account), {})[event.order_id] = (
                    event.venue_symbol
                )
    return out
