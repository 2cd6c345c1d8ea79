"""WebSocket API responses (`order.place`, `order.cancel`, ...) -> snapshot `OrderEvent`s.

A response restates an order as the matching engine saw it when it answered; the user
stream reports the same changes as they happen. Responses are therefore marked
`is_snapshot=True`: the state machine may take cumulative quantities from them but must never
let one reopen or regress an order. The envelope channel names the method answered
(`wsapi.<method>`), because the response itself does not.

Response shapes: `{"id", "status", "result" | "error", "rateLimits"}`. A clean error
(status >= 400 with `error.code`) is a valid message without order state and yields nothing;
only `order.cancelReplace` errors can still carry order reports (in `error.data`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.envelope import RawEnvelope
from pipeline.errors import NormalizationError
from pipeline.venues.base import (
    choice,
    expect_list,
    expect_object,
    fast_decimal,
    fast_millis,
    fast_opt_decimal,
    fast_opt_text,
    fast_text,
    field,
    opt_flag,
    opt_integer,
    trade_report,
)
from pipeline.venues.binance.mapping import (
    SIDE_MAP,
    STATUS_MAP,
    STOP_TYPES,
    VENUE,
    allocation_trade_id,
    cancel_reason_of,
    order_type_of,
    settle,
    time_in_force_of,
    to_symbol,
)

_TIME_FIELDS = ("updateTime", "transactTime", "workingTime", "time")


def order_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`order.place` (ACK/RESULT/FULL) and `order.status`: one order, or nothing for an ACK."""
    result = _result(payload)
    if result is None:
        return []
    return order_reports(expect_object(VENUE, result, "result"), envelope, "result.", False)


def cancel_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`order.cancel`: one canceled order, or an order list with `orderReports`."""
    result = _result(payload)
    if result is None:
        return []
    return order_reports(expect_object(VENUE, result, "result"), envelope, "result.", True)


def dry_run_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`order.test`: validated, but it never reaches the matching engine."""
    _result(payload)
    return []


def open_orders_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`openOrders.status`: an array of order objects (order.status shape)."""
    return _each(payload, envelope, cancel=False)


def cancel_all_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`openOrders.cancelAll`: an array of cancel reports and order lists (`orderReports`)."""
    return _each(payload, envelope, cancel=True)


def amend_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`order.amend.keepPriority`: `amendedOrder` stamped with the result's time and id."""
    result = _result(payload)
    if result is None:
        return []
    result = expect_object(VENUE, result, "result")
    amended = expect_object(VENUE, field(VENUE, result, "amendedOrder", "result."), "result")
    return report(
        amended,
        envelope,
        "result.amendedOrder.",
        cancel=False,
        event_time=fast_millis(VENUE, result, "transactTime", "result."),
        sequence=opt_integer(VENUE, result, "executionId", "result."),
    )


def my_trades_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`myTrades`: one fill-only snapshot event per trade (`trade_event`)."""
    result = _result(payload)
    if result is None:
        return []
    if not isinstance(result, list):
        raise NormalizationError(VENUE, "result", result, "expected an array")
    return [
        trade_event(expect_object(VENUE, item, f"result[{i}]"), envelope, f"result[{i}].")
        for i, item in enumerate(result)
    ]


def trade_event(obj: dict[str, Any], envelope: RawEnvelope, path: str) -> OrderEvent:
    """One `myTrades` item -> an event of its order carrying the trade's `Fill`.

    A trade says nothing about its order beyond "executed at least this much": the event
    states no cumulative quantity or order type (`""`: the fold keeps the known one), status
    `partially_filled` (`venue_status` `TRADE`), `is_snapshot`. It is stamped `received_at`
    (no sequence), so a trade also reported on the user stream keeps the stream's report
    (earlier) as the owner of its trade id (`id` = the stream's `t`); the fill is the same.
    """
    order_id = fast_text(VENUE, obj, "orderId", path)
    trade_id = fast_text(VENUE, obj, "id", path)
    venue_symbol = fast_text(VENUE, obj, "symbol", path)
    symbol = to_symbol(venue_symbol, path + "symbol")
    buyer = opt_flag(VENUE, obj, "isBuyer", path)
    if buyer is None:
        raise NormalizationError(VENUE, path + "isBuyer", None, "required field is missing")
    maker = opt_flag(VENUE, obj, "isMaker", path)
    qty = fast_decimal(VENUE, obj, "qty", path)
    if qty <= 0:
        raise NormalizationError(VENUE, path + "qty", obj["qty"], "a fill must execute a quantity")
    side = Side.BUY if buyer else Side.SELL
    fill = Fill(
        venue=VENUE,
        account=envelope.account,
        symbol=symbol,
        venue_symbol=venue_symbol,
        order_id=order_id,
        trade_id=trade_id,
        side=side,
        price=fast_decimal(VENUE, obj, "price", path),
        qty=qty,
        fee=fast_decimal(VENUE, obj, "commission", path),
        fee_asset=fast_opt_text(VENUE, obj, "commissionAsset", path),
        liquidity=Liquidity.UNKNOWN
        if maker is None
        else (Liquidity.MAKER if maker else Liquidity.TAKER),
        trade_time=fast_millis(VENUE, obj, "time", path),
        received_at=envelope.received_at,
    )
    event_id = f"binance:{venue_symbol}:{order_id}:trade:{trade_id}"
    return trade_report(fill, event_id, "TRADE", envelope.received_at, is_snapshot=True)


def order_list_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`orderList.place[.oco|.oto|.otoco|.opo|.opoco]`: the legs' `orderReports`."""
    return _order_list(payload, envelope, cancel=False)


def order_list_cancel_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`orderList.cancel`: the canceled legs' `orderReports`."""
    return _order_list(payload, envelope, cancel=True)


def _order_list(payload: Any, envelope: RawEnvelope, cancel: bool) -> list[OrderEvent]:
    """An order list reply: its legs' reports, or nothing when it names the legs only
    (`orderList.status`: `orders` with ids, no quantities; the legs' states come from
    the user stream and `order.status`)."""
    result = _result(payload)
    if result is None:
        return []
    result = expect_object(VENUE, result, "result")
    opt_integer(VENUE, result, "orderListId", "result.")
    if "orderReports" not in result:
        expect_list(VENUE, field(VENUE, result, "orders", "result."), "result.orders")
        return []
    return order_reports(result, envelope, "result.", cancel)


def sor_order_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`sor.order.place`: an array of order replies; fills are SOR allocations."""
    return _each(payload, envelope, cancel=False)


def my_allocations_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`myAllocations`: one fill-only snapshot event per SOR allocation, id `alloc:<id>`."""
    result = _result(payload)
    if result is None:
        return []
    if not isinstance(result, list):
        raise NormalizationError(VENUE, "result", result, "expected an array")
    events = []
    for i, item in enumerate(result):
        path = f"result[{i}]."
        obj = expect_object(VENUE, item, path[:-1])
        allocation = opt_integer(VENUE, obj, "allocationId", path)
        if allocation is None or allocation < 0:
            raise NormalizationError(VENUE, path + "allocationId", allocation, "expected an id")
        events.append(trade_event({**obj, "id": f"alloc:{allocation}"}, envelope, path))
    return events


def prevented_matches_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`myPreventedMatches`: validated, no event. Each record names a taker and a maker order
    and the quantity prevention removed from the maker; both orders' own executionReports
    (`A`, `EXPIRED_IN_MATCH`) already carry that to the books, so nothing is added twice."""
    result = _result(payload)
    if result is None:
        return []
    for i, item in enumerate(expect_list(VENUE, result, "result")):
        path = f"result[{i}]."
        obj = expect_object(VENUE, item, path[:-1])
        fast_text(VENUE, obj, "symbol", path)
        fast_decimal(VENUE, obj, "makerPreventedQuantity", path)
        fast_millis(VENUE, obj, "transactTime", path)
    return []


def cancel_replace_reply(payload: Any, envelope: RawEnvelope) -> list[OrderEvent]:
    """`order.cancelReplace`: the halves that succeeded, also inside a 409 partial failure."""
    obj = expect_object(VENUE, payload, "payload")
    result = _result(obj)
    if result is None:
        data = obj["error"].get("data")
        if data is None:
            return []
        container, path = expect_object(VENUE, data, "error.data"), "error.data."
    else:
        container, path = expect_object(VENUE, result, "result"), "result."
    events: list[OrderEvent] = []
    for key, cancel in (("cancelResponse", True), ("newOrderResponse", False)):
        part = container.get(key)
        if part is None:
            continue
        part = expect_object(VENUE, part, path + key)
        if "orderId" not in part and "orderReports" not in part and "code" in part:
            continue  # this half failed: `{code, msg}`, no order state
        events.extend(order_reports(part, envelope, f"{path}{key}.", cancel))
    return events


def order_reports(
    obj: dict[str, Any], envelope: RawEnvelope, path: str, cancel: bool
) -> list[OrderEvent]:
    """An order report, an order list (its `orderReports`), or an ACK (no state: nothing)."""
    if "orderReports" in obj:
        reports = obj["orderReports"]
        if not isinstance(reports, list):
            raise NormalizationError(VENUE, path + "orderReports", reports, "expected an array")
        events: list[OrderEvent] = []
        for i, item in enumerate(reports):
            where = f"{path}orderReports[{i}]"
            events.extend(
                order_reports(expect_object(VENUE, item, where), envelope, where + ".", cancel)
            )
        return events
    if "status" not in obj:
        fast_text(VENUE, obj, "orderId", path)  # an ACK: it names the order but states nothing
        return []
    return report(obj, envelope, path, cancel)


def report(
    obj: dict[str, Any],
    envelope: RawEnvelope,
    path: str,
    cancel: bool,
    event_time: int | None = None,
    sequence: int | None = None,
) -> list[OrderEvent]:
    """One order object; a FULL placement reply yields one event per entry of `fills`.

    Every event of a FULL reply restates the same (final) order state and carries one fill,
    so no intermediate state is invented; fills are keyed by `tradeId` and deduplicate against
    the user stream's TRADE reports of the same trades.
    """
    status: OrderStatus = choice(VENUE, obj, "status", STATUS_MAP, path)
    label: str = obj["status"]
    order_id = fast_text(VENUE, obj, "orderId", path)
    venue_symbol = fast_text(VENUE, obj, "symbol", path)
    symbol = to_symbol(venue_symbol, path + "symbol")
    side = choice(VENUE, obj, "side", SIDE_MAP, path)
    type_label = fast_opt_text(VENUE, obj, "type", path) or ""  # cosmetic: "" = not stated
    tif_label = fast_opt_text(VENUE, obj, "timeInForce", path)
    if event_time is None:
        event_time = _event_time(obj, path)
    qty_key = "origQty" if "origQty" in obj else "qty"
    filled = fast_decimal(VENUE, obj, "executedQty", path)
    qty: Decimal | None = fast_decimal(VENUE, obj, qty_key, path)
    quote_key = "origQuoteOrderQty" if "origQuoteOrderQty" in obj else "quoteOrderQty"
    quote_qty = fast_opt_decimal(VENUE, obj, quote_key, path) or None
    if not qty and quote_qty:
        qty = None
    prevented_key = "preventedQuantity" if "preventedQuantity" in obj else "preventedQty"
    prevented = fast_opt_decimal(VENUE, obj, prevented_key, path)
    qty, canceled = settle(status, qty, filled, prevented, path + "executedQty")

    if status is OrderStatus.OPEN and type_label in STOP_TYPES:
        working = opt_flag(VENUE, obj, "isWorking", path)
        if working is None:
            working = obj.get("workingTime") not in (None, -1)
        if not working:
            status = OrderStatus.UNTRIGGERED

    client_order_id = fast_opt_text(VENUE, obj, "clientOrderId", path)  # cosmetic
    if cancel:  # `clientOrderId` is the cancel request's id; the order's is the original
        client_order_id = fast_opt_text(VENUE, obj, "origClientOrderId", path) or client_order_id

    avg: Decimal | None = None
    if filled > 0:
        cum_key = "cummulativeQuoteQty" if "cummulativeQuoteQty" in obj else "cumulativeQuoteQty"
        cumulative_quote = fast_opt_decimal(VENUE, obj, cum_key, path)
        if cumulative_quote is not None and cumulative_quote >= 0:  # < 0: "not available"
            avg = cumulative_quote / filled

    common: dict[str, Any] = {
        "venue": VENUE,
        "account": envelope.account,
        "order_id": order_id,
        "symbol": symbol,
        "venue_symbol": venue_symbol,
        "side": side,
        "order_type": order_type_of(type_label),
        "status": status,
        "venue_status": label,
        "event_time": event_time,
        "received_at": envelope.received_at,
        "qty": qty,
        "price": fast_opt_decimal(VENUE, obj, "price", path) or None,
        "filled_qty": filled,
        "avg_fill_price": avg,
        "canceled_qty": canceled,
        "quote_qty": quote_qty,
        "stop_price": fast_opt_decimal(VENUE, obj, "stopPrice", path) or None,
        "client_order_id": client_order_id,
        "time_in_force": time_in_force_of(tif_label),
        "cancel_reason": cancel_reason_of(label, type_label, tif_label, None),
        "sequence": sequence,
        "is_snapshot": True,
    }
    prefix = (
        f"binance:{venue_symbol}:{order_id}:snapshot:{label}:{obj.get(qty_key)}:"
        f"{obj.get('executedQty')}:{event_time}"
    )
    fills = obj.get("fills")
    if not fills:
        return [OrderEvent(event_id=prefix + ":", fill=None, **common)]
    if not isinstance(fills, list):
        raise NormalizationError(VENUE, path + "fills", fills, "expected an array")
    events = []
    for i, item in enumerate(fills):
        where = f"{path}fills[{i}]"
        fill = _fill(expect_object(VENUE, item, where), where + ".", common)
        events.append(OrderEvent(event_id=f"{prefix}:{fill.trade_id}", fill=fill, **common))
    return events


def _fill(item: dict[str, Any], path: str, common: dict[str, Any]) -> Fill:
    """A `fills[]` entry of a FULL reply: an immediate execution, hence always a taker."""
    qty = fast_decimal(VENUE, item, "qty", path)
    if qty <= 0:
        raise NormalizationError(VENUE, path + "qty", item["qty"], "a fill must execute a quantity")
    return Fill(
        venue=VENUE,
        account=common["account"],
        symbol=common["symbol"],
        venue_symbol=common["venue_symbol"],
        order_id=common["order_id"],
        trade_id=allocation_trade_id(fast_text(VENUE, item, "tradeId", path), item.get("allocId")),
        side=common["side"],
        price=fast_decimal(VENUE, item, "price", path),
        qty=qty,
        fee=fast_decimal(VENUE, item, "commission", path),
        fee_asset=fast_opt_text(VENUE, item, "commissionAsset", path),
        liquidity=Liquidity.TAKER,
        trade_time=common["event_time"],
        received_at=common["received_at"],
    )


def _event_time(obj: dict[str, Any], path: str) -> int:
    """The latest time the object states: update, transaction, working, then creation time."""
    for name in _TIME_FIELDS:
        if obj.get(name) is not None:
            return fast_millis(VENUE, obj, name, path)
    raise NormalizationError(VENUE, path + "transactTime", None, "required field is missing")


def _result(payload: Any) -> Any:
    """The `result` of a success response; `None` for a well-formed error response."""
    obj = expect_object(VENUE, payload, "payload")
    status = obj.get("status")
    if isinstance(status, bool) or not isinstance(status, int):
        raise NormalizationError(VENUE, "status", status, "expected an integer status")
    if status >= 400:
        error = expect_object(VENUE, field(VENUE, obj, "error"), "error")
        code = field(VENUE, error, "code", "error.")
        if isinstance(code, bool) or not isinstance(code, int):
            raise NormalizationError(VENUE, "error.code", code, "expected an integer code")
        return None
    return field(VENUE, obj, "result")


def _each(payload: Any, envelope: RawEnvelope, cancel: bool) -> list[OrderEvent]:
    result = _result(payload)
    if result is None:
        return []
    if not isinstance(result, list):
        raise NormalizationError(VENUE, "result", result, "expected an array")
    events: list[OrderEvent] = []
    for i, item in enumerate(result):
        where = f"result[{i}]"
        events.extend(
            order_reports(expect_object(VENUE, item, where), envelope, where + ".", cancel)
        )
    return events
