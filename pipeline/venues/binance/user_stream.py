"""The user data stream: `executionReport` -> `OrderEvent`; other events -> nothing.

Binance has delivered the same event in three wrappers over the years (the WS-API
subscription `{"subscriptionId", "event"}`, the bare listenKey event, the combined stream
`{"stream", "data"}`); all three are unwrapped here so the raw topic can hold any of them.

Decisions worth knowing downstream:
- on `x=CANCELED`, `c` is the *cancel request's* id and `C` the order's original client id;
  the event carries the original (falling back to `c` when `C` is empty, as in old fixtures);
- cosmetic fields (`c` the client order id, `o` the order type) may be empty or absent: the
  books need ids, quantities, prices and times, which are read strictly, and a fill is never
  refused over a label (issue 14 item 4); a wrong-typed one is still a dead letter;
- event time is `E`; `sequence` is the execution id `I` when present (unique and increasing
  per symbol), to break ties between reports stamped with the same millisecond;
- `fee` on the event is left unset: Binance states commissions per trade only (`n`, `N`),
  so cumulative fees are the sum of the fills.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import (
    TERMINAL_STATUSES,
    Fill,
    Liquidity,
    OrderEvent,
    OrderStatus,
    Side,
)
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    DECIMAL_OF_STRING,
    INT64,
    MAX_MILLIS,
    choice,
    expect_object,
    fast_decimal,
    fast_millis,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    opt_flag,
    opt_integer,
    opt_millis,
)
from pipeline.venues.binance.mapping import (
    EXECUTION_TYPES,
    IGNORED_EVENTS,
    ORDER_TYPE_MAP,
    SIDE_MAP,
    STATUS_MAP,
    STOP_TYPES,
    SYMBOL_CACHE,
    VENUE,
    ZERO,
    allocation_trade_id,
    cancel_reason_of,
    order_type_of,
    settle,
    time_in_force_of,
    to_symbol,
)

_MAKER = {True: Liquidity.MAKER, False: Liquidity.TAKER, None: Liquidity.UNKNOWN}
_OPEN = OrderStatus.OPEN
_CANCEL_LABELS = frozenset({"CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"})  # may carry a reason


def user_stream(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """Unwrap one user-stream message and translate it if it is an execution report."""
    obj = payload if type(payload) is dict else expect_object(VENUE, payload, "payload")
    path = ""
    if "event" in obj:
        inner = obj["event"]
        obj = inner if type(inner) is dict else expect_object(VENUE, inner, "event")
        path = "event."
    elif "data" in obj:
        obj, path = expect_object(VENUE, obj["data"], "data"), "data."
    kind = obj.get("e")
    if type(kind) is not str or not kind:
        kind = fast_text(VENUE, obj, "e", path)
    if kind == "executionReport":
        return [execution_report(obj, envelope, path)]
    if kind in IGNORED_EVENTS:
        return []
    raise NormalizationError(VENUE, path + "e", kind, "unknown user-stream event type")


def execution_report(ev: dict[str, Any], envelope: RawEnvelope, path: str) -> OrderEvent:
    """One `executionReport`; a TRADE carries its `Fill`.

    Every Binance report passes here, so each field is read inline with its common case
    first: a decimal string looked up in the decimal cache (`DECIMAL_OF_STRING`), a non-empty
    string, a non-negative integer, a known label looked up in its table. Anything else goes
    to the `base` reader named on the same line, which converts it or raises the documented
    error. Fields are read in a fixed order, which decides the error reported when several
    are bad.
    """
    strings = DECIMAL_OF_STRING
    label: Any = ev.get("x")
    execution = EXECUTION_TYPES.get(label) if type(label) is str else None
    if execution is None:
        execution = choice(VENUE, ev, "x", EXECUTION_TYPES, path)  # raises, naming the field
    label = ev.get("X")  # a label of STATUS_MAP once checked
    status = STATUS_MAP.get(label) if type(label) is str else None
    if status is None:
        status = choice(VENUE, ev, "X", STATUS_MAP, path)
    order_id = ev.get("i")
    order_id = str(order_id) if type(order_id) is int else fast_text(VENUE, ev, "i", path)
    venue_symbol = ev.get("s")
    if type(venue_symbol) is not str or not venue_symbol:
        venue_symbol = fast_text(VENUE, ev, "s", path)
    symbol = SYMBOL_CACHE.get(venue_symbol) or to_symbol(venue_symbol, path + "s")
    side = ev.get("S")
    side = SIDE_MAP.get(side) if type(side) is str else None
    if side is None:
        side = choice(VENUE, ev, "S", SIDE_MAP, path)
    type_label = ev.get("o")
    if type(type_label) is not str:  # cosmetic for the books: absent or empty is "not stated"
        type_label = fast_opt_text(VENUE, ev, "o", path) or ""
    tif_label = ev.get("f")
    if type(tif_label) is not str or not tif_label:
        tif_label = fast_opt_text(VENUE, ev, "f", path)
    event_time = ev.get("E")
    if type(event_time) is not int or not 0 <= event_time < MAX_MILLIS:
        event_time = fast_millis(VENUE, ev, "E", path)
    value = ev.get("z")
    filled = strings.get(value) if type(value) is str else None
    if filled is None:
        filled = fast_decimal(VENUE, ev, "z", path)
    value = ev.get("q")
    qty: Decimal | None = strings.get(value) if type(value) is str else None
    if qty is None:
        qty = fast_decimal(VENUE, ev, "q", path)
    value = ev.get("Q")
    quote_qty = strings.get(value) if type(value) is str else None
    if quote_qty is None:
        quote_qty = fast_opt_decimal(VENUE, ev, "Q", path)
    quote_qty = quote_qty or None
    if not qty and quote_qty:
        qty = None  # MARKET by quoteOrderQty: the base quantity is known only at the end
    prevented = fast_opt_decimal(VENUE, ev, "A", path)
    canceled: Decimal | None
    if qty is not None and ZERO <= filled <= qty:  # settle's common case, without a call
        canceled = qty - filled if status in TERMINAL_STATUSES else prevented or ZERO
    else:
        qty, canceled = settle(status, qty, filled, prevented, path + "z")

    if status is _OPEN and type_label in STOP_TYPES:
        working = opt_flag(VENUE, ev, "w", path)
        if not (working if working is not None else "W" in ev):
            status = OrderStatus.UNTRIGGERED

    client_order_id = ev.get("c")
    if type(client_order_id) is str:
        client_order_id = client_order_id or None  # cosmetic: an empty `c` loses no fill
    else:
        client_order_id = fast_opt_text(VENUE, ev, "c", path)
    if execution == "CANCELED":
        client_order_id = fast_opt_text(VENUE, ev, "C", path) or client_order_id

    avg: Decimal | None = None
    if filled > 0:
        value = ev.get("Z")
        cumulative_quote = strings.get(value) if type(value) is str else None
        if cumulative_quote is None:
            cumulative_quote = fast_opt_decimal(VENUE, ev, "Z", path)
        if cumulative_quote is not None and cumulative_quote >= 0:
            avg = cumulative_quote / filled

    fill = None
    if execution == "TRADE":
        fill = _fill(ev, envelope, path, order_id, symbol, venue_symbol, side, event_time)
    execution_id = ev.get("I")
    if type(execution_id) is not int or not -INT64 <= execution_id < INT64:
        execution_id = opt_integer(VENUE, ev, "I", path)
    trade_ref = fill.trade_id if fill is not None else ""
    exec_ref = "" if execution_id is None else execution_id
    event_id = (
        f"binance:{venue_symbol}:{order_id}:{execution}:{label}:{trade_ref}:{exec_ref}:{event_time}"
    )
    value = ev.get("p")
    price = strings.get(value) if type(value) is str else None
    if price is None:
        price = fast_opt_decimal(VENUE, ev, "p", path)
    value = ev.get("P")
    stop_price = strings.get(value) if type(value) is str else None
    if stop_price is None:
        stop_price = fast_opt_decimal(VENUE, ev, "P", path)
    reason = None
    if label in _CANCEL_LABELS:
        expiry = ev.get("eR")
        if expiry is not None and type(expiry) is not str:
            expiry = fast_opt_text(VENUE, ev, "eR", path)  # an object / array / bool raises
        reason = cancel_reason_of(label, type_label, tif_label, expiry)
    # Positional on purpose: keyword construction of this 27-field dataclass costs ~1 us more
    # per event. The order is pinned by tests/unit/venues/test_event_layout.py.
    return OrderEvent(
        event_id,
        VENUE,
        envelope.account,
        order_id,
        symbol,
        venue_symbol,
        side,
        ORDER_TYPE_MAP.get(type_label) or order_type_of(type_label),
        status,
        label,  # venue_status
        event_time,
        envelope.received_at,
        qty,
        price or None,
        filled,
        avg,
        canceled,
        None,  # fee: Binance states commissions per trade only
        None,  # fee_asset
        quote_qty,
        stop_price or None,
        client_order_id,
        time_in_force_of(tif_label),
        reason,
        fill,
        execution_id,  # sequence
        False,  # is_snapshot
    )


def _fill(
    ev: dict[str, Any],
    envelope: RawEnvelope,
    path: str,
    order_id: str,
    symbol: str,
    venue_symbol: str,
    side: Side,
    event_time: int,
) -> Fill:
    """The trade of an `x=TRADE` report (`t`, `L`, `l`, `n`, `N`, `m`, `T`)."""
    strings = DECIMAL_OF_STRING
    trade_id = ev.get("t")
    trade_id = str(trade_id) if type(trade_id) is int else fast_text(VENUE, ev, "t", path)
    if trade_id == "-1":
        trade_id = allocation_trade_id(trade_id, ev.get("a"))  # an SOR allocation
        if trade_id == "-1":
            raise NormalizationError(VENUE, path + "t", ev["t"], "a TRADE report needs a trade id")
    value = ev.get("l")
    qty = strings.get(value) if type(value) is str else None
    if qty is None:
        qty = fast_decimal(VENUE, ev, "l", path)
    if qty <= 0:
        raise NormalizationError(VENUE, path + "l", ev["l"], "a TRADE must execute a quantity")
    value = ev.get("L")
    price = strings.get(value) if type(value) is str else None
    if price is None:
        price = fast_decimal(VENUE, ev, "L", path)
    value = ev.get("n")
    fee = strings.get(value) if type(value) is str else None
    if fee is None:
        fee = fast_decimal(VENUE, ev, "n", path)
    fee_asset = ev.get("N")
    if type(fee_asset) is str:
        fee_asset = fee_asset or None
    elif fee_asset is not None:
        fee_asset = fast_opt_text(VENUE, ev, "N", path)  # raises
    maker = ev.get("m")
    liquidity = _MAKER[maker if type(maker) is bool else opt_flag(VENUE, ev, "m", path)]
    trade_time = ev.get("T")
    if type(trade_time) is not int or not 0 <= trade_time < MAX_MILLIS:
        trade_time = opt_millis(VENUE, ev, "T", path)
    return Fill(  # positional, like OrderEvent above
        VENUE,
        envelope.account,
        symbol,
        venue_symbol,
        order_id,
        trade_id,
        side,
        price,
        qty,
        fee,
        fee_asset,
        liquidity,
        trade_time or event_time,  # trade_time
        envelope.received_at,
    )
