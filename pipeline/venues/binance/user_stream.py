"""The user data stream: `executionReport` -> `OrderEvent`; other events -> nothing.

Binance has delivered the same event in three wrappers over the years (the WS-API
subscription `{"subscriptionId", "event"}`, the bare listenKey event, the combined stream
`{"stream", "data"}`); all three are unwrapped here so the raw topic can hold any of them.

Decisions worth knowing downstream:
- on `x=CANCELED`, `c` is the *cancel request's* id and `C` the order's original client id;
  the event carries the original (falling back to `c` when `C` is empty, as in old fixtures);
- event time is `E`; `sequence` is the execution id `I` when present (unique and increasing
  per symbol), to break ties between reports stamped with the same millisecond;
- `fee` on the event is left unset: Binance states commissions per trade only (`n`, `N`),
  so cumulative fees are the sum of the fills.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
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
    SIDE_MAP,
    STATUS_MAP,
    STOP_TYPES,
    VENUE,
    cancel_reason_of,
    order_type_of,
    settle,
    time_in_force_of,
    to_symbol,
)

_MAKER = {True: Liquidity.MAKER, False: Liquidity.TAKER, None: Liquidity.UNKNOWN}


def user_stream(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """Unwrap one user-stream message and translate it if it is an execution report."""
    obj = expect_object(VENUE, payload, "payload")
    path = ""
    if "event" in obj:
        obj, path = expect_object(VENUE, obj["event"], "event"), "event."
    elif "data" in obj:
        obj, path = expect_object(VENUE, obj["data"], "data"), "data."
    kind = fast_text(VENUE, obj, "e", path)
    if kind == "executionReport":
        return [execution_report(obj, envelope, path)]
    if kind in IGNORED_EVENTS:
        return []
    raise NormalizationError(VENUE, path + "e", kind, "unknown user-stream event type")


def execution_report(ev: dict[str, Any], envelope: RawEnvelope, path: str) -> OrderEvent:
    """One `executionReport`; a TRADE carries its `Fill`."""
    execution: str = choice(VENUE, ev, "x", EXECUTION_TYPES, path)
    status: OrderStatus = choice(VENUE, ev, "X", STATUS_MAP, path)
    label: str = ev["X"]
    order_id = fast_text(VENUE, ev, "i", path)
    venue_symbol = fast_text(VENUE, ev, "s", path)
    symbol = to_symbol(venue_symbol, path + "s")
    side = choice(VENUE, ev, "S", SIDE_MAP, path)
    type_label = fast_text(VENUE, ev, "o", path)
    tif_label = fast_opt_text(VENUE, ev, "f", path)
    event_time = fast_millis(VENUE, ev, "E", path)
    filled = fast_decimal(VENUE, ev, "z", path)
    qty: Decimal | None = fast_decimal(VENUE, ev, "q", path)
    quote_qty = fast_opt_decimal(VENUE, ev, "Q", path) or None
    if not qty and quote_qty:
        qty = None  # MARKET by quoteOrderQty: the base quantity is known only at the end
    qty, canceled = settle(status, qty, filled, fast_opt_decimal(VENUE, ev, "A", path), path + "z")

    if status is OrderStatus.OPEN and type_label in STOP_TYPES:
        working = opt_flag(VENUE, ev, "w", path)
        if not (working if working is not None else "W" in ev):
            status = OrderStatus.UNTRIGGERED

    client_order_id = fast_text(VENUE, ev, "c", path)
    if execution == "CANCELED":
        client_order_id = fast_opt_text(VENUE, ev, "C", path) or client_order_id

    avg: Decimal | None = None
    if filled > 0:
        cumulative_quote = fast_opt_decimal(VENUE, ev, "Z", path)
        if cumulative_quote is not None and cumulative_quote >= 0:
            avg = cumulative_quote / filled

    fill = None
    if execution == "TRADE":
        fill = _fill(ev, envelope, path, order_id, symbol, venue_symbol, side, event_time)
    execution_id = opt_integer(VENUE, ev, "I", path)
    trade_ref = fill.trade_id if fill is not None else ""
    exec_ref = "" if execution_id is None else execution_id
    event_id = (
        f"binance:{venue_symbol}:{order_id}:{execution}:{label}:{trade_ref}:{exec_ref}:{event_time}"
    )
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
        order_type_of(type_label),
        status,
        label,  # venue_status
        event_time,
        envelope.received_at,
        qty,
        fast_opt_decimal(VENUE, ev, "p", path) or None,  # price
        filled,
        avg,
        canceled,
        None,  # fee: Binance states commissions per trade only
        None,  # fee_asset
        quote_qty,
        fast_opt_decimal(VENUE, ev, "P", path) or None,  # stop_price
        client_order_id,
        time_in_force_of(tif_label),
        cancel_reason_of(label, type_label, tif_label, ev.get("eR")),
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
    trade_id = fast_text(VENUE, ev, "t", path)
    if trade_id == "-1":
        raise NormalizationError(VENUE, path + "t", ev["t"], "a TRADE report needs a trade id")
    qty = fast_decimal(VENUE, ev, "l", path)
    if qty <= 0:
        raise NormalizationError(VENUE, path + "l", ev["l"], "a TRADE must execute a quantity")
    return Fill(  # positional, like OrderEvent above
        VENUE,
        envelope.account,
        symbol,
        venue_symbol,
        order_id,
        trade_id,
        side,
        fast_decimal(VENUE, ev, "L", path),  # price
        qty,
        fast_decimal(VENUE, ev, "n", path),  # fee
        fast_opt_text(VENUE, ev, "N", path),  # fee_asset
        _MAKER[opt_flag(VENUE, ev, "m", path)],
        opt_millis(VENUE, ev, "T", path) or event_time,  # trade_time
        envelope.received_at,
    )
