"""`FuturesGatewayNormalizer`: the gateway's order and trade replies -> `OrderEvent`s.

The gateway is polled only (no private stream). Order objects state cumulative
`executed_quantity`/`average_price`/`fee` and set `fills_implied`: the order ledger derives
fills from increases, so positions see an execution at the first poll that shows it. The
trade list (`rest.trades`) carries the real fills; the ledger voids an order's derived fills
once one of its trades arrives. Decided here:
- TP/SL types (TAKE_PROFIT_MARKET, STOP_MARKET) in NEW/OPEN wait for their trigger:
  `untriggered`; `TRIGGERED` means their market order works (`open`).
- The account is the exchange behind the gateway (`EXCHANGE_2`), given by the envelope; an
  order whose `exchange` differs is refused rather than filed under the wrong account.
- A TP/SL order that triggered is a market order: when it ends `EXPIRED`, or `CANCELLED` after
  trading, its released remainder is `unfilled_remainder` (a TP/SL cancelled before trading is
  `user`).
- Terminal reports carry `canceled_qty = quantity - executed_quantity` (the gateway states
  no canceled quantity), so filled + canceled + remaining = qty.
- A trade is an event of its order carrying the trade's `Fill`: status `partially_filled`
  (`venue_status` `TRADE`), `is_snapshot`, no cumulative quantity and order type `""` (not
  stated), event time = the trade's `time`; id `futures_gateway:trade:<order_id>:<trade_id>`
  (the two sides of a self-trade share a trade id, not an order).
- `cancel_all` replies list order ids only: no event (see `mapping.CHANNEL_CANCEL_ALL`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.domain.events import CancelReason, Fill, OrderEvent, OrderStatus
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    check_events,
    choice,
    expect_list,
    expect_object,
    fast_decimal,
    fast_millis,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    field,
    id_number,
    opt_average,
    trade_report,
)
from pipeline.venues.futures_gateway.mapping import (
    CHANNEL_CANCEL_ALL,
    CHANNEL_OPEN_ORDERS,
    CHANNEL_ORDER_STATUS,
    CHANNEL_TRADES,
    CHANNELS,
    CONDITIONAL_TYPES,
    LIQUIDITY_MAP,
    ORDER_TYPE_MAP,
    SIDE_MAP,
    STATUS_MAP,
    TIME_IN_FORCE_MAP,
    VENUE,
    WAITING_STATUSES,
    to_symbol,
)

_REMAINDER_TIFS = frozenset({"IOC", "FOK"})


class FuturesGatewayNormalizer:
    """Pure translation of the futures gateway's REST replies into canonical events."""

    venue = VENUE

    def normalize(self, envelope: RawEnvelope) -> list[OrderEvent]:
        """The events of `envelope`, their identifiers and quantities checked at the edge."""
        return check_events(VENUE, self.translate(envelope))

    def translate(self, envelope: RawEnvelope) -> list[OrderEvent]:
        channel = envelope.channel
        if channel == CHANNEL_ORDER_STATUS:
            data = expect_object(VENUE, field(VENUE, _reply(envelope), "data"), "data")
            return [order_event(data, envelope, "data.")]
        if channel == CHANNEL_OPEN_ORDERS:
            return _each(envelope, "orders", order_event)
        if channel == CHANNEL_TRADES:
            return _each(envelope, "trades", trade_event)
        if channel == CHANNEL_CANCEL_ALL:
            data = expect_object(VENUE, field(VENUE, _reply(envelope), "data"), "data")
            ids = expect_list(VENUE, field(VENUE, data, "orders_ids", "data."), "data.orders_ids")
            for i, order_id in enumerate(ids):
                if not isinstance(order_id, str) or not order_id:
                    raise NormalizationError(
                        VENUE, f"data.orders_ids[{i}]", order_id, "expected an order id"
                    )
            return []
        raise NormalizationError(
            VENUE, "channel", channel, f"unknown channel; expected one of {', '.join(CHANNELS)}"
        )


def _each(
    envelope: RawEnvelope,
    name: str,
    translate: Callable[[dict[str, Any], RawEnvelope, str], OrderEvent],
) -> list[OrderEvent]:
    """`{"data": {name: [item, ...]}}`: each item translated, errors naming its index."""
    data = expect_object(VENUE, field(VENUE, _reply(envelope), "data"), "data")
    items = expect_list(VENUE, field(VENUE, data, name, "data."), f"data.{name}")
    out = []
    for i, item in enumerate(items):
        where = f"data.{name}[{i}]"
        out.append(translate(expect_object(VENUE, item, where), envelope, where + "."))
    return out


def _reply(envelope: RawEnvelope) -> dict[str, Any]:
    """The reply object, after refusing the gateway's error replies (`{error: {...}}`)."""
    reply = expect_object(VENUE, envelope.payload, "payload")
    error = reply.get("error")
    if error is not None:
        shown = error if not isinstance(error, dict) else error.get("code")
        message = error.get("message") if isinstance(error, dict) else None
        raise NormalizationError(VENUE, "error", shown, f"venue error reply: {message!s}")
    return reply


def order_event(o: dict[str, Any], envelope: RawEnvelope, path: str) -> OrderEvent:
    """One order object (the shape in `schemas/venues/futures_gateway.md`) -> one event."""
    order_id = fast_text(VENUE, o, "order_id", path)
    exchange = fast_opt_text(VENUE, o, "exchange", path)
    if exchange is not None and exchange != envelope.account:
        raise NormalizationError(
            VENUE, path + "exchange", exchange, f"differs from the account {envelope.account!r}"
        )
    venue_symbol = fast_text(VENUE, o, "symbol", path)
    label = fast_text(VENUE, o, "status", path)
    status: OrderStatus = choice(VENUE, o, "status", STATUS_MAP, path)
    type_label = fast_text(VENUE, o, "type", path)
    order_type: str = choice(VENUE, o, "type", ORDER_TYPE_MAP, path)
    tif_label = fast_opt_text(VENUE, o, "time_in_force", path)
    tif = None if tif_label is None else choice(VENUE, o, "time_in_force", TIME_IN_FORCE_MAP, path)
    qty = fast_decimal(VENUE, o, "quantity", path)
    executed = fast_decimal(VENUE, o, "executed_quantity", path)
    if executed < 0 or executed > qty:
        raise NormalizationError(
            VENUE, path + "executed_quantity", o["executed_quantity"], "outside 0..quantity"
        )
    updated_at = fast_millis(VENUE, o, "updated_at", path)
    reason: CancelReason | None = None
    if label in WAITING_STATUSES and type_label in CONDITIONAL_TYPES and not executed:
        status = OrderStatus.UNTRIGGERED
    elif status is OrderStatus.OPEN and executed:
        status = OrderStatus.PARTIALLY_FILLED
    elif status is OrderStatus.CANCELED or status is OrderStatus.EXPIRED:
        if (
            type_label == "MARKET"
            or tif_label in _REMAINDER_TIFS
            # a TP/SL that traded or expired had triggered: its market order's remainder
            or (type_label in CONDITIONAL_TYPES and (executed or status is OrderStatus.EXPIRED))
        ):
            reason = CancelReason.UNFILLED_REMAINDER
        elif status is OrderStatus.CANCELED:
            reason = CancelReason.USER
    fee = fast_opt_decimal(VENUE, o, "fee", path)
    avg = opt_average(VENUE, o, "average_price", path)
    return OrderEvent(
        event_id=f"{VENUE}:{order_id}:{label}:{id_number(executed)}:{updated_at}",
        venue=VENUE,
        account=envelope.account,
        order_id=order_id,
        symbol=to_symbol(venue_symbol, path + "symbol"),
        venue_symbol=venue_symbol,
        side=choice(VENUE, o, "side", SIDE_MAP, path),
        order_type=order_type,
        status=status,
        venue_status=label,
        event_time=updated_at,
        received_at=envelope.received_at,
        qty=qty,
        price=fast_opt_decimal(VENUE, o, "price", path),
        filled_qty=executed,
        avg_fill_price=avg if executed and avg else None,
        canceled_qty=qty - executed if status.is_terminal else None,
        fee=fee,
        fee_asset=fast_opt_text(VENUE, o, "fee_asset", path) if fee is not None else None,
        stop_price=fast_opt_decimal(VENUE, o, "stop_price", path),
        client_order_id=fast_opt_text(VENUE, o, "client_order_id", path),
        time_in_force=tif,
        cancel_reason=reason,
        is_snapshot=True,
        fills_implied=True,
    )


def trade_event(t: dict[str, Any], envelope: RawEnvelope, path: str) -> OrderEvent:
    """One trade object (`rest.trades`) -> an event of its order carrying the trade's `Fill`.

    A trade says nothing about its order beyond "executed at least this much": no cumulative
    quantity, no order type (`""`: the fold keeps the one the order's reports give), status
    `partially_filled`, `is_snapshot` (it never moves a terminal order). Its time is the
    event time, so it sorts before an order report of the same millisecond that states it.
    """
    order_id = fast_text(VENUE, t, "order_id", path)
    trade_id = fast_text(VENUE, t, "trade_id", path)
    venue_symbol = fast_text(VENUE, t, "symbol", path)
    symbol = to_symbol(venue_symbol, path + "symbol")
    side = choice(VENUE, t, "side", SIDE_MAP, path)
    price = fast_decimal(VENUE, t, "price", path)
    if price <= 0:
        raise NormalizationError(VENUE, path + "price", t["price"], "a trade price must be > 0")
    qty = fast_decimal(VENUE, t, "quantity", path)
    if qty <= 0:
        raise NormalizationError(
            VENUE, path + "quantity", t["quantity"], "a trade must execute a quantity"
        )
    maker = field(VENUE, t, "is_maker", path)
    if type(maker) is not bool:
        raise NormalizationError(VENUE, path + "is_maker", maker, "expected a boolean")
    time = fast_millis(VENUE, t, "time", path)
    fill = Fill(
        VENUE,
        envelope.account,
        symbol,
        venue_symbol,
        order_id,
        trade_id,
        side,
        price,
        qty,
        fast_decimal(VENUE, t, "fee", path),
        fast_text(VENUE, t, "fee_asset", path),
        LIQUIDITY_MAP[maker],
        time,
        envelope.received_at,
    )
    return trade_report(
        fill,
        f"{VENUE}:trade:{order_id}:{trade_id}",
        "TRADE",
        time,
        client_order_id=fast_opt_text(VENUE, t, "client_order_id", path),
        is_snapshot=True,
    )
