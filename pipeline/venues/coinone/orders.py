"""Coinone REST reports -> `OrderEvent`s: order objects, the cancel reply, trades.

What is decided here, so the state machine sees plain canonical facts:
- REST order objects and the cancel reply state cumulative quantities only, so their events
  set `fills_implied`; `completed_orders` trades carry a real `Fill` and no cumulative
  `filled_qty` (MYORDER frames, in `stream.py`, work the same way).
- Status comes from the label, then from the quantities: an auto-canceled market order whose
  leftover was below the product unit is in truth `filled` (the label stays in
  `venue_status`); a "partially canceled" order that still has `remain_qty` is working.
- Terminal reports carry a final `qty` (a market buy sized in KRW gets `qty = executed`) and
  `canceled_qty = qty - filled_qty` when the venue left it null, so that
  filled + canceled + remaining = qty.
- Snapshot event ids name the state (order, label, executed, canceled) and not the poll, so
  the same state polled twice, or seen in both a cancel reply and a detail, dedupes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import CancelReason, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    choice,
    fast_decimal,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    field,
    id_number,
    opt_average,
    opt_flag,
    opt_millis_lenient,
    to_millis_lenient,
    trade_report,
)
from pipeline.venues.coinone.mapping import (
    AUTO_CANCEL_LABELS,
    ORDER_TYPE_MAP,
    PARTIAL_CANCEL_LABELS,
    SIDE_MAP,
    STATUS_MAP,
    VENUE,
    pair_symbols,
)

ZERO = Decimal(0)
LIQUIDITY: dict[Any, Liquidity] = {
    True: Liquidity.MAKER,
    False: Liquidity.TAKER,
    "true": Liquidity.MAKER,  # MYORDER documents `im` as a string
    "false": Liquidity.TAKER,
    None: Liquidity.UNKNOWN,
}


def order_object_event(
    o: dict[str, Any], envelope: RawEnvelope, path: str, status_required: bool
) -> OrderEvent:
    """One v2.1 order object (order detail, or an active_orders item) -> a snapshot event.

    `active_orders` items omit `status` in the v2.1 docs; it is then derived the way the
    detail endpoint would label the order (`NOT_TRIGGERED`, `PARTIALLY_FILLED`, `LIVE`).
    """
    order_id = fast_text(VENUE, o, "order_id", path)
    quote = fast_text(VENUE, o, "quote_currency", path)
    symbol, vsym = pair_symbols(fast_text(VENUE, o, "target_currency", path), quote, path)
    executed = fast_opt_decimal(VENUE, o, "executed_qty", path)
    label = fast_opt_text(VENUE, o, "status", path)
    if label is None:
        if status_required:
            field(VENUE, o, "status", path)  # raises: required field is missing
        if o.get("is_triggered") is False:
            label = "NOT_TRIGGERED"
        else:
            label = "PARTIALLY_FILLED" if executed else "LIVE"
    quote_qty = fast_opt_decimal(VENUE, o, "original_amount", path)
    return _state_event(
        envelope,
        path,
        order_id=order_id,
        symbol=symbol,
        venue_symbol=vsym,
        quote=quote,
        side=choice(VENUE, o, "side", SIDE_MAP, path),
        order_type=choice(VENUE, o, "type", ORDER_TYPE_MAP, path),
        label=label,
        label_field="status",
        qty=fast_opt_decimal(VENUE, o, "original_qty", path),
        price=fast_opt_decimal(VENUE, o, "price", path),
        executed=executed,
        canceled=fast_opt_decimal(VENUE, o, "canceled_qty", path),
        remain=fast_opt_decimal(VENUE, o, "remain_qty", path),
        avg=opt_average(VENUE, o, "average_executed_price", path),
        fee=fast_opt_decimal(VENUE, o, "fee", path),
        quote_qty=quote_qty,
        amount_done=_amount_done(o, quote_qty, path),
        stop_price=fast_opt_decimal(VENUE, o, "trigger_price", path),
        client_order_id=fast_opt_text(VENUE, o, "user_order_id", path),
        event_time=opt_millis_lenient(VENUE, o, "updated_at", path) or envelope.received_at,
    )


def cancel_reply_event(o: dict[str, Any], envelope: RawEnvelope, pair: str) -> OrderEvent:
    """The v2.1 cancel reply -> the order's post-cancel state (a snapshot).

    The reply has no status and no order type: the label is derived as the detail endpoint
    would show it (`CANCELED`, `PARTIALLY_CANCELED` when something traded, `FILLED` when the
    cancel came too late), and `order_type` is left empty ("not stated"). `qty` in the reply
    is the canceled quantity; the order's size is `original_qty`.
    """
    if "quote_currency" in o or "target_currency" in o:
        quote = fast_text(VENUE, o, "quote_currency")
        symbol, vsym = pair_symbols(fast_text(VENUE, o, "target_currency"), quote, "")
    elif pair:
        target, _, quote = pair.partition("-")
        symbol, vsym = pair_symbols(target, quote, "channel.")
    else:
        raise NormalizationError(
            VENUE, "quote_currency", None, "the cancel reply names no pair; publish it on "
            "channel rest.order_cancel:<TARGET>-<QUOTE>"
        )  # fmt: skip
    traded = fast_decimal(VENUE, o, "traded_qty")
    canceled = fast_decimal(VENUE, o, "canceled_qty")
    remain = fast_decimal(VENUE, o, "remain_qty")
    label = "PARTIALLY_CANCELED" if traded else "CANCELED"
    if not canceled and not remain and traded:
        label = "FILLED"
    return _state_event(
        envelope,
        "",
        order_id=fast_text(VENUE, o, "order_id"),
        symbol=symbol,
        venue_symbol=vsym,
        quote=quote,
        side=choice(VENUE, o, "side", SIDE_MAP),
        order_type="",
        label=label,
        label_field="canceled_qty",
        qty=fast_decimal(VENUE, o, "original_qty"),
        price=fast_opt_decimal(VENUE, o, "price"),
        executed=traded,
        canceled=canceled,
        remain=remain,
        avg=opt_average(VENUE, o, "avg_price"),
        fee=fast_opt_decimal(VENUE, o, "fee"),
        quote_qty=None,
        amount_done=False,
        stop_price=None,
        client_order_id=fast_opt_text(VENUE, o, "user_order_id"),
        event_time=opt_millis_lenient(VENUE, o, "canceled_at") or envelope.received_at,
    )


def _amount_done(o: dict[str, Any], quote_qty: Decimal | None, path: str) -> bool:
    """Whether an order sized in quote currency traded its whole amount."""
    if quote_qty is None:
        return False
    traded = fast_opt_decimal(VENUE, o, "traded_amount", path)
    return traded is not None and traded >= quote_qty


def _state_event(
    envelope: RawEnvelope,
    path: str,
    *,
    order_id: str,
    symbol: str,
    venue_symbol: str,
    quote: str,
    side: Side,
    order_type: str,
    label: str,
    label_field: str,
    qty: Decimal | None,
    price: Decimal | None,
    executed: Decimal | None,
    canceled: Decimal | None,
    remain: Decimal | None,
    avg: Decimal | None,
    fee: Decimal | None,
    quote_qty: Decimal | None,
    amount_done: bool,
    stop_price: Decimal | None,
    client_order_id: str | None,
    event_time: int,
) -> OrderEvent:
    """Status from label and quantities; terminal quantities completed; the snapshot event."""
    status = STATUS_MAP.get(label)
    if status is None:
        raise NormalizationError(
            VENUE, path + label_field, label, f"unknown value; expected one of {_KNOWN_LABELS}"
        )
    reason: CancelReason | None = None
    if label in AUTO_CANCEL_LABELS:
        if (
            amount_done
            or (qty is not None and executed is not None and executed >= qty)
            or (label == "CANCELED_UNDER_PRODUCT_UNIT" and executed)
        ):
            status = OrderStatus.FILLED  # the leftover could not buy a product unit
        else:
            reason = CancelReason.UNFILLED_REMAINDER
    else:
        if label in PARTIAL_CANCEL_LABELS and remain is not None:
            if not remain:
                status = OrderStatus.CANCELED  # nothing left: the cancel ended the order
            elif status is not OrderStatus.UNTRIGGERED:
                status = OrderStatus.PARTIALLY_FILLED if executed else OrderStatus.OPEN
        elif status is OrderStatus.OPEN and executed:
            status = OrderStatus.PARTIALLY_FILLED
        if status is OrderStatus.CANCELED:
            reason = CancelReason.USER
    if status.is_terminal:
        if qty is None and quote_qty is not None:
            qty = executed  # a market buy's base size is known once it is done
        if canceled is None and qty is not None and executed is not None:
            canceled = qty - executed
    state = f"{label}:{id_number(executed)}:{id_number(canceled)}"
    return OrderEvent(
        event_id=f"coinone:state:{order_id}:{state}",
        venue=VENUE,
        account=envelope.account,
        order_id=order_id,
        symbol=symbol,
        venue_symbol=venue_symbol,
        side=side,
        order_type=order_type,
        status=status,
        venue_status=label,
        event_time=event_time,
        received_at=envelope.received_at,
        qty=qty,
        price=price,
        filled_qty=executed,
        avg_fill_price=avg if executed else None,
        canceled_qty=canceled,
        fee=fee,
        fee_asset=quote if fee is not None else None,
        quote_qty=quote_qty,
        stop_price=stop_price,
        client_order_id=client_order_id,
        cancel_reason=reason,
        is_snapshot=True,
        fills_implied=True,
    )


_KNOWN_LABELS = ", ".join(sorted(STATUS_MAP))


def trade_event(t: dict[str, Any], envelope: RawEnvelope, path: str) -> OrderEvent:
    """One `completed_orders` item (a fill) -> an event carrying that `Fill`.

    A trade says nothing about the order's state beyond "at least partially filled", so the
    status is `partially_filled` (venue_status `trade`) and no cumulative quantity is set.
    """
    order_id = fast_text(VENUE, t, "order_id", path)
    trade_id = fast_text(VENUE, t, "trade_id", path)
    quote = fast_text(VENUE, t, "quote_currency", path)
    symbol, vsym = pair_symbols(fast_text(VENUE, t, "target_currency", path), quote, path)
    is_ask = field(VENUE, t, "is_ask", path)
    if not isinstance(is_ask, bool):
        raise NormalizationError(VENUE, path + "is_ask", is_ask, "expected a boolean")
    side = Side.SELL if is_ask else Side.BUY
    when = to_millis_lenient(VENUE, path + "timestamp", field(VENUE, t, "timestamp", path))
    fill = make_fill(
        envelope,
        order_id=order_id,
        trade_id=trade_id,
        symbol=symbol,
        venue_symbol=vsym,
        side=side,
        price=fast_decimal(VENUE, t, "price", path),
        qty=fast_decimal(VENUE, t, "qty", path),
        qty_field=path + "qty",
        fee=fast_opt_decimal(VENUE, t, "fee", path) or ZERO,
        fee_asset=fast_opt_text(VENUE, t, "fee_currency", path) or quote,
        liquidity=LIQUIDITY[opt_flag(VENUE, t, "is_maker", path)],
        trade_time=when,
    )
    return trade_report(
        fill,
        f"coinone:trade:{order_id}:{trade_id}",
        "trade",
        when,
        order_type=choice(VENUE, t, "order_type", ORDER_TYPE_MAP, path),
        is_snapshot=True,
    )


def make_fill(
    envelope: RawEnvelope,
    *,
    order_id: str,
    trade_id: str,
    symbol: str,
    venue_symbol: str,
    side: Side,
    price: Decimal,
    qty: Decimal,
    qty_field: str,
    fee: Decimal,
    fee_asset: str,
    liquidity: Liquidity,
    trade_time: int,
) -> Fill:
    if qty <= 0:
        raise NormalizationError(VENUE, qty_field, str(qty), "fill quantity must be > 0")
    return Fill(
        venue=VENUE,
        account=envelope.account,
        symbol=symbol,
        venue_symbol=venue_symbol,
        order_id=order_id,
        trade_id=trade_id,
        side=side,
        price=price,
        qty=qty,
        fee=fee,
        fee_asset=fee_asset,
        liquidity=liquidity,
        trade_time=trade_time,
        received_at=envelope.received_at,
    )
