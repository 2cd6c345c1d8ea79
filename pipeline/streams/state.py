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

Restoring is on the critical path of a failover (a moved partition outputs nothing until its
state is back), and a failover state holds tens of thousands of events and fills. The codec
validates each of their fields with a function call of its own, naming the field when one is
wrong, which an input topic needs and a checkpoint does not: its body was written by
`processor_state` and its bytes are checked against their SHA-256 before they are parsed
(checkpoint.py). `restore_processor(..., trusted=True)` builds events and fills directly
instead: each decimal string is parsed once per body (they repeat a lot), enums are looked
up, and strings, ints, flags and nested fills are checked by the compiled constructors (in a
plain-Python build, whose constructors check nothing, the trusted path validates as the codec
does). Both paths run with the cyclic collector paused: the restored state is acyclic, and
the collections its allocations triggered rescanned the decoded body again and again. A body
that is still not what `processor_state` writes (a missing key, a value of the wrong type, an
unknown enum value, a bad or non-finite decimal) is refused with `CheckpointError` on both
paths; only the message is less precise on the trusted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from operator import is_
from typing import Any

import orjson

from pipeline.codec import (
    event_from_dict,
    event_to_dict,
    fill_from_dict,
    fill_to_dict,
    position_from_dict,
    position_to_dict,
)
from pipeline.domain.book import BookState, TradingBook
from pipeline.domain.events import (
    TERMINAL_STATUSES,
    Fill,
    Liquidity,
    OrderEvent,
    OrderStatus,
    Side,
)
from pipeline.domain.positions import PositionLedgerState
from pipeline.errors import BadInputError, CheckpointError
from pipeline.streams.gcpolicy import paused
from pipeline.streams.processor import PartitionProcessor, ProcessingSettings

STATE_VERSION = 1


def processor_state(processor: PartitionProcessor) -> dict[str, Any]:
    """The processor's whole state as JSON-ready values."""
    return _state(processor, _events_list, _fills_list)


def _events_list(key: Any, events: list[OrderEvent]) -> list[dict[str, Any]]:
    return [event_to_dict(e) for e in events]


def _fills_list(key: Any, fills: list[Fill]) -> list[dict[str, Any]]:
    return [fill_to_dict(f) for f in fills]


class StateWriter:
    """`processor_state` for the successive checkpoints of one partition, at a fraction of
    its cost: a checkpoint serializes every event held, and most did not change since the
    last one. Each order's events (and each position's fills) are serialized to JSON once
    and used again, as an `orjson.Fragment`, while the order still holds the very same event
    objects (events and fills are immutable; a new event means a new list). The body it
    gives is for `checkpoint.encode` only (fragments are not plain values), and encodes to
    the very bytes `processor_state`'s does."""

    def __init__(self) -> None:
        self._orders: dict[Any, tuple[list[OrderEvent], orjson.Fragment]] = {}
        self._fills: dict[Any, tuple[list[Fill], orjson.Fragment]] = {}

    def state(self, processor: PartitionProcessor) -> dict[str, Any]:
        orders: dict[Any, tuple[list[OrderEvent], orjson.Fragment]] = {}
        fills: dict[Any, tuple[list[Fill], orjson.Fragment]] = {}
        state = _state(
            processor,
            lambda key, events: _fragment(self._orders, orders, key, events, event_to_dict),
            lambda key, held: _fragment(self._fills, fills, key, held, fill_to_dict),
        )
        self._orders, self._fills = orders, fills  # only what is still held
        return state


def _fragment(
    old: dict[Any, tuple[list[Any], orjson.Fragment]],
    new: dict[Any, tuple[list[Any], orjson.Fragment]],
    key: Any,
    items: list[Any],
    to_dict: Callable[[Any], dict[str, Any]],
) -> orjson.Fragment:
    cached = old.get(key)
    if cached is None or len(cached[0]) != len(items) or not all(map(is_, cached[0], items)):
        cached = (items, orjson.Fragment(orjson.dumps([to_dict(item) for item in items])))
    new[key] = cached
    return cached[1]


def _state(
    processor: PartitionProcessor,
    order_events: Callable[[Any, list[OrderEvent]], Any],
    position_fills: Callable[[Any, list[Fill]], Any],
) -> dict[str, Any]:
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
        "orders": [[*key, order_events(key, events)] for key, events in book.orders],
        "evicted": [[*key, at] for key, at in book.evicted],
        "positions": [_position_ledger(p, position_fills) for p in book.positions],
        "counters": list(book.counters),
    }


def restore_processor(
    state: dict[str, Any], settings: ProcessingSettings, *, trusted: bool = False
) -> PartitionProcessor:
    """The processor `processor_state` described; `CheckpointError` if it cannot be read.

    `trusted`: the body comes from a checkpoint whose digest was verified; events and fills
    are then built without the codec's per-field checks (see the module docstring).
    """
    version = state.get("state_version") if isinstance(state, dict) else None
    if version != STATE_VERSION:
        raise CheckpointError(
            f"processor state version {version!r} is not the one this release reads "
            f"({STATE_VERSION})"
        )
    if trusted and _TYPED_CONSTRUCTORS:
        event_of, fill_of = _trusted_decoders()
    else:
        event_of, fill_of = event_from_dict, fill_from_dict
    # acyclic and long-lived: nothing for the cyclic collector to find, much to rescan
    try:
        with paused():
            return _restore(state, settings, event_of, fill_of)
    except (
        KeyError, TypeError, ValueError, AttributeError, InvalidOperation, BadInputError,
    ) as exc:  # fmt: skip
        raise CheckpointError(f"processor state is malformed: {type(exc).__name__}: {exc}") from exc


def _restore(
    state: dict[str, Any],
    settings: ProcessingSettings,
    event_of: Callable[[dict[str, Any]], OrderEvent],
    fill_of: Callable[[dict[str, Any]], Fill],
) -> PartitionProcessor:
    processor = PartitionProcessor(state["topic"], state["partition"], settings)
    book = BookState(
        [((v, a, o), [event_of(e) for e in events]) for v, a, o, events in state["orders"]],
        [((v, a, o), at) for v, a, o, at in state["evicted"]],
        [_restore_position_ledger(p, fill_of) for p in state["positions"]],
        tuple(state["counters"]),
    )
    processor.book = TradingBook.restore(book, settings.tombstone_ms)
    reorder = state["reorder"]
    processor.reorder.restore(
        reorder["max_event_time"],
        reorder["counter"],
        [
            (time, tie, count, (event_of(event), late, offset))
            for time, tie, count, event, late, offset in reorder["entries"]
        ],
    )
    processor.next_offset = state["next_offset"]
    processor.version_base = state["version_base"]
    processor._last_eviction = state["last_eviction"]
    processor._evict_at = state["evict_at"]
    return processor


def _constructors_check_types() -> bool:
    """Do `Fill` and `OrderEvent` refuse arguments of the wrong type? The compiled build's do
    (mypyc checks each one); plain Python's do not, and then the trusted path is not taken."""
    try:
        Fill(0, "", "", "", "", "", Side.BUY, Decimal(0), Decimal(0), Decimal(0), None,  # type: ignore[arg-type]
             Liquidity.MAKER, 0, 0)  # fmt: skip
    except TypeError:
        return True
    return False


_TYPED_CONSTRUCTORS = _constructors_check_types()
_SIDES = {member.value: member for member in Side}
_STATUSES = {member.value: member for member in OrderStatus}
_LIQUIDITIES = {member.value: member for member in Liquidity}


def _decimal(text: Any) -> Decimal:
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise TypeError(f"expected a decimal string, got {text!r}")
    value = Decimal(text)  # InvalidOperation for what is not a number
    if not value.is_finite():
        raise ValueError(f"decimal {text!r} is not finite")
    return value


class _Decimals(dict[Any, Decimal]):
    """Decimal string -> Decimal, each parsed once (a body repeats prices and quantities)."""

    __slots__ = ()

    def __missing__(self, text: Any) -> Decimal:
        value = self[text] = _decimal(text)
        return value


class _OptionalDecimals(dict[Any, Decimal | None]):
    """As `_Decimals`, with None (an absent value) for None."""

    __slots__ = ()

    def __missing__(self, text: Any) -> Decimal | None:
        value = self[text] = None if text is None else _decimal(text)
        return value


def _trusted_decoders() -> tuple[
    Callable[[dict[str, Any]], OrderEvent], Callable[[dict[str, Any]], Fill]
]:
    """`event_from_dict` and `fill_from_dict` for a verified checkpoint body: what they
    build from what `event_to_dict` and `fill_to_dict` wrote, without a call per field.

    The compiled constructors check the type of every str, int, bool and nested fill
    (TypeError); decimals are parsed here (and must be finite), enums looked up (KeyError).
    """
    decimals = _Decimals()
    optional = _OptionalDecimals()
    sides, statuses, liquidities = _SIDES, _STATUSES, _LIQUIDITIES

    def fill_of(o: dict[str, Any]) -> Fill:
        return Fill(
            o["venue"], o["account"], o["symbol"], o["venue_symbol"], o["order_id"],
            o["trade_id"], sides[o["side"]], decimals[o["price"]], decimals[o["qty"]],
            decimals[o["fee"]], o.get("fee_asset"), liquidities[o["liquidity"]],
            o["trade_time"], o["received_at"],
        )  # fmt: skip

    def event_of(o: dict[str, Any]) -> OrderEvent:
        get = o.get
        fill = get("fill")
        return OrderEvent(
            o["event_id"], o["venue"], o["account"], o["order_id"], o["symbol"],
            o["venue_symbol"], sides[o["side"]], o["order_type"], statuses[o["status"]],
            o["venue_status"], o["event_time"], o["received_at"], optional[get("qty")],
            optional[get("price")], optional[get("filled_qty")],
            optional[get("avg_fill_price")], optional[get("canceled_qty")],
            optional[get("fee")], get("fee_asset"), optional[get("quote_qty")],
            optional[get("stop_price")], get("client_order_id"), get("time_in_force"),
            get("cancel_reason"), None if fill is None else fill_of(fill), get("sequence"),
            get("is_snapshot") or False, get("fills_implied") or False,
        )  # fmt: skip

    return event_of, fill_of


def _position_ledger(
    ledger: PositionLedgerState, position_fills: Callable[[Any, list[Fill]], Any]
) -> dict[str, Any]:
    return {
        "key": list(ledger.key),
        "version": ledger.version,
        "late_fills": ledger.late_fills,
        "base": position_to_dict(ledger.base),
        "horizon": None if ledger.horizon is None else list(ledger.horizon),
        "compacted": [list(item) for item in ledger.compacted],
        "fills": position_fills(ledger.key, ledger.fills),
    }


def _restore_position_ledger(
    obj: dict[str, Any], fill_of: Callable[[dict[str, Any]], Fill] = fill_from_dict
) -> PositionLedgerState:
    venue, account, symbol = obj["key"]
    horizon = obj["horizon"]
    return PositionLedgerState(
        (venue, account, symbol),
        obj["version"],
        obj["late_fills"],
        position_from_dict(obj["base"]),
        None if horizon is None else (horizon[0], horizon[1], horizon[2]),
        [(o, t, at) for o, t, at in obj["compacted"]],
        [fill_of(fill) for fill in obj["fills"]],
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
