"""Binance WebSocket API order methods: parameters -> engine operations -> results or errors.

Each method takes the caller's account, the request `params` and the time, and returns the
`result` object of a 200 response or raises `BinanceError` with Binance's HTTP status, code
and message (FACTS.md §1.6, seed 004). Engine refusals are translated once, here
(`rejection_error`). The server (binance.py) does authentication, rate limits and framing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pipeline.errors import SimulatedVenueError
from pipeline.sim.binance_wire import (
    STP_MODES,
    amended_order,
    cancel_client_id,
    canceled_order,
    d8,
    order_status,
    placed_order,
)
from pipeline.sim.engine import (
    EngineRejection,
    EventKind,
    Exchange,
    Liquidity,
    Order,
    OrderRequest,
    OrderType,
    RejectCode,
    Side,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
)

Params = Mapping[str, Any]

ORDER_TYPES: dict[str, tuple[OrderType, TriggerKind | None, bool]] = {
    "LIMIT": (OrderType.LIMIT, None, False),
    "MARKET": (OrderType.MARKET, None, False),
    "LIMIT_MAKER": (OrderType.LIMIT, None, True),
    "STOP_LOSS": (OrderType.MARKET, TriggerKind.STOP_LOSS, False),
    "STOP_LOSS_LIMIT": (OrderType.LIMIT, TriggerKind.STOP_LOSS, False),
    "TAKE_PROFIT": (OrderType.MARKET, TriggerKind.TAKE_PROFIT, False),
    "TAKE_PROFIT_LIMIT": (OrderType.LIMIT, TriggerKind.TAKE_PROFIT, False),
}
TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
UNKNOWN_ORDER = "Unknown order sent."


class BinanceError(SimulatedVenueError):
    """An error response: `{"status", "error": {"code", "msg"[, "data"]}}`."""

    def __init__(self, status: int, code: int, msg: str, data: Any = None) -> None:
        self.status, self.code, self.msg, self.data = status, code, msg, data
        super().__init__(f"{status} {code}: {msg}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            error["data"] = self.data
        return error


def missing(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def rejection_error(exc: EngineRejection, lookup: bool = False) -> BinanceError:
    """The Binance error for an engine refusal (`lookup`: a query, not a cancel)."""
    code = exc.code
    if code in (RejectCode.UNKNOWN_ORDER, RejectCode.ORDER_CLOSED):
        if lookup:
            return BinanceError(400, -2013, "Order does not exist.")
        return BinanceError(400, -2011, UNKNOWN_ORDER)
    messages = {
        RejectCode.UNKNOWN_SYMBOL: (-1121, "Invalid symbol."),
        RejectCode.INVALID_QUANTITY: (-1013, "Filter failure: LOT_SIZE"),
        RejectCode.INVALID_PRICE: (-1013, "Filter failure: PRICE_FILTER"),
        RejectCode.INVALID_PARAMETERS: (-1013, "Unsupported order combination"),
        RejectCode.UNSUPPORTED: (-1013, "Invalid selfTradePreventionMode or unsupported request."),
        RejectCode.POST_ONLY_WOULD_TAKE: (-2010, "Order would immediately match and take."),
        RejectCode.STOP_WOULD_TRIGGER: (-2010, "Order would trigger immediately."),
        RejectCode.DUPLICATE_CLIENT_ID: (-2010, "Duplicate order sent."),
        RejectCode.AMEND_NOT_REDUCING: (-2038, "Order amend (quantity increase) is not supported."),
        RejectCode.AMEND_LIMIT: (-2038, "Order amend rejected: too many amendments."),
    }
    number, message = messages.get(code, (-1013, exc.message))
    return BinanceError(400, number, message)


def _decimal(params: Params, name: str, required: bool = False) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise missing(name) from None
    if not value.is_finite() or value < 0:
        raise missing(name)
    return value


def _text(params: Params, name: str, required: bool = False) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(raw, str):
        raise missing(name)
    return raw


@dataclass(frozen=True)
class NewOrder:
    request: OrderRequest
    response_type: str


def new_order(exchange: Exchange, account: str, params: Params) -> NewOrder:
    """Parse `order.place` (or the new half of `order.cancelReplace`) parameters."""
    symbol = _text(params, "symbol", True) or ""
    if symbol not in exchange.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(_text(params, "side", True) or "")
    if side is None:
        raise BinanceError(400, -1117, "Invalid side.")
    type_label = _text(params, "type", True) or ""
    if type_label not in ORDER_TYPES:
        raise BinanceError(400, -1116, "Invalid orderType.")
    order_type, trigger, post_only = ORDER_TYPES[type_label]
    tif = TimeInForce.GTC
    if order_type is OrderType.LIMIT and not post_only:
        tif_label = _text(params, "timeInForce", True) or ""
        if tif_label not in TIME_IN_FORCE:
            raise BinanceError(400, -1115, "Invalid timeInForce.")
        tif = TIME_IN_FORCE[tif_label]
    price = _decimal(params, "price", order_type is OrderType.LIMIT)
    qty = _decimal(params, "quantity")
    quote = _decimal(params, "quoteOrderQty") if type_label == "MARKET" else None
    if qty is None and quote is None:
        raise missing("quantity")
    stop = _decimal(params, "stopPrice", trigger is not None)
    stp_label = _text(params, "selfTradePreventionMode") or "NONE"
    if stp_label not in STP_MODES:
        raise BinanceError(400, -1013, "Invalid selfTradePreventionMode.")
    default_response = "FULL" if type_label in ("LIMIT", "MARKET") else "ACK"
    response_type = _text(params, "newOrderRespType") or default_response
    if response_type not in ("ACK", "RESULT", "FULL"):
        raise BinanceError(400, -1102, "Invalid newOrderRespType.")
    request = OrderRequest(
        account=account,
        symbol=symbol,
        side=side,
        order_type=order_type,
        qty=None if quote is not None and qty is None else qty,
        price=price if order_type is OrderType.LIMIT else None,
        quote_qty=quote if qty is None else None,
        time_in_force=tif,
        post_only=post_only,
        trigger=trigger,
        stop_price=stop,
        stp=STP_MODES[stp_label],
        client_order_id=_text(params, "newClientOrderId"),
    )
    return NewOrder(request, response_type)


def place(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    parsed = new_order(exchange, account, params)
    try:
        order, events = exchange.place(parsed.request, now)
    except EngineRejection as exc:
        raise rejection_error(exc) from None
    return placed_order(order, parsed.response_type, events)


def find(exchange: Exchange, account: str, params: Params, id_key: str, client_key: str) -> Order:
    """The order named by `id_key` and/or `client_key` (both: the id wins, the client id
    must then match); `EngineRejection(UNKNOWN_ORDER)` otherwise."""
    symbol = _text(params, "symbol", True)
    raw_id, client_id = params.get(id_key), _text(params, client_key)
    if raw_id is None and client_id is None:
        raise BinanceError(
            400,
            -1102,
            f"Param '{client_key}' or '{id_key}' must be sent, but both were empty/null!",
        )
    order = exchange.find(account, None if raw_id is None else str(raw_id), client_id)
    if order.venue_symbol != symbol or (
        raw_id is not None and client_id is not None and order.client_order_id != client_id
    ):
        raise EngineRejection(RejectCode.UNKNOWN_ORDER, "unknown order")
    return order


def status(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    try:
        return order_status(find(exchange, account, params, "orderId", "origClientOrderId"))
    except EngineRejection as exc:
        raise rejection_error(exc, lookup=True) from None


def cancel(
    exchange: Exchange, account: str, params: Params, now: int, prefix: str = ""
) -> dict[str, Any]:
    """`order.cancel`, or the cancel half of `order.cancelReplace` (`prefix="cancel"`)."""
    id_key = f"{prefix}OrderId" if prefix else "orderId"
    client_key = f"{prefix}OrigClientOrderId" if prefix else "origClientOrderId"
    new_key = f"{prefix}NewClientOrderId" if prefix else "newClientOrderId"
    restriction = params.get("cancelRestrictions")
    if restriction not in (None, "ONLY_NEW", "ONLY_PARTIALLY_FILLED"):
        raise BinanceError(400, -1145, "Invalid cancelRestrictions")
    try:
        order = find(exchange, account, params, id_key, client_key)
        if (restriction == "ONLY_NEW" and order.status is Status.PARTIALLY_FILLED) or (
            restriction == "ONLY_PARTIALLY_FILLED" and order.status is not Status.PARTIALLY_FILLED
        ):
            raise BinanceError(400, -2011, "Order was not canceled due to cancel restrictions.")
        request_id = _text(params, new_key) or exchange.ids.client_order_id()
        events = exchange.cancel(order.order_id, now, request_id=request_id, account=account)
    except EngineRejection as exc:
        raise rejection_error(exc) from None
    return canceled_order(events[-1].order, request_id, now)


def cancel_replace(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    """Cancel, then place (not transactional): 200, 400 -2022 or 409 -2021 with `data`."""
    mode = params.get("cancelReplaceMode")
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise missing("cancelReplaceMode")
    parsed = new_order(exchange, account, params)  # filters are checked before either half
    cancel_response: Any
    new_response: Any = None
    try:
        cancel_response, cancel_ok = cancel(exchange, account, params, now, "cancel"), True
    except BinanceError as exc:
        cancel_response, cancel_ok = {"code": exc.code, "msg": exc.msg}, False
    new_result = "NOT_ATTEMPTED"
    if cancel_ok or mode == "ALLOW_FAILURE":
        try:
            order, events = exchange.place(parsed.request, now)
            new_response, new_result = placed_order(order, parsed.response_type, events), "SUCCESS"
        except EngineRejection as exc:
            error = rejection_error(exc)
            new_response, new_result = {"code": error.code, "msg": error.msg}, "FAILURE"
    data = {
        "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
        "newOrderResult": new_result,
        "cancelResponse": cancel_response,
        "newOrderResponse": new_response,
    }
    if cancel_ok and new_result == "SUCCESS":
        return data
    if not cancel_ok and new_result != "SUCCESS":
        raise BinanceError(400, -2022, "Order cancel-replace failed.", data)
    raise BinanceError(409, -2021, "Order cancel-replace partially failed.", data)


def amend(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    new_qty = _decimal(params, "newQty", True)
    assert new_qty is not None
    try:
        order = find(exchange, account, params, "orderId", "origClientOrderId")
        if new_qty == order.qty:
            raise BinanceError(400, -2038, "The requested action would change no state; rejecting")
        events = exchange.amend(
            order.order_id, new_qty, now, _text(params, "newClientOrderId"), account
        )
    except EngineRejection as exc:
        raise rejection_error(exc, lookup=exc.code is RejectCode.UNKNOWN_ORDER) from None
    amended = next(e for e in events if e.kind is EventKind.AMENDED)
    return amended_order(amended.order, amended.time, amended.seq)


def open_orders(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    symbol = _text(params, "symbol")
    if symbol is not None and symbol not in exchange.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return [order_status(o) for o in exchange.open_orders(account, symbol)]


DAY_MS = 86_400_000


def _int_param(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(value)


def all_orders(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    """`allOrders`: the account's orders of one symbol, any status, oldest first.

    As Binance documents it: `orderId` -> orders with an id >= it, else the most recent
    ones; `startTime`/`endTime` (creation time, at most 24 h apart) override `orderId`;
    `limit` default 500, at most 1000. Items have the `order.status` shape.
    """
    symbol = _text(params, "symbol", True)
    if symbol not in exchange.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    start, end = _int_param(params, "startTime"), _int_param(params, "endTime")
    order_id, limit = _int_param(params, "orderId"), _int_param(params, "limit") or 500
    if not 1 <= limit <= 1000:
        raise BinanceError(400, -1130, "Invalid data sent for a parameter.")
    if start is not None and end is not None and end - start > DAY_MS:
        raise BinanceError(400, -1127, "More than 24 hours between startTime and endTime.")
    orders = sorted(
        (o for o in exchange.orders.values() if o.account == account and o.venue_symbol == symbol),
        key=lambda o: int(o.order_id),
    )
    if start is not None or end is not None:
        low = start if start is not None else end - DAY_MS  # type: ignore[operator]
        high = end if end is not None else low + DAY_MS
        chosen = [o for o in orders if low <= o.created_at <= high][:limit]
    elif order_id is not None:
        chosen = [o for o in orders if int(o.order_id) >= order_id][:limit]
    else:
        chosen = orders[-limit:]
    return [order_status(o) for o in chosen]


def my_trades(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    """`myTrades`: the account's trades of one symbol, oldest first.

    As Binance documents it: `orderId` -> that order's trades; `startTime`/`endTime` (trade
    time, at most 24 h apart) select by time, `fromId` by trade id >= it (not with a time:
    -1128); neither -> the most recent; `limit` default 500, at most 1000. Items:
    `{symbol, id, orderId, orderListId, price, qty, quoteQty, commission, commissionAsset,
    time, isBuyer, isMaker, isBestMatch}`.
    """
    symbol = _text(params, "symbol", True)
    if symbol not in exchange.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    start, end = _int_param(params, "startTime"), _int_param(params, "endTime")
    order_id, from_id = _int_param(params, "orderId"), _int_param(params, "fromId")
    limit = _int_param(params, "limit") or 500
    if not 1 <= limit <= 1000:
        raise BinanceError(400, -1130, "Invalid data sent for a parameter.")
    if from_id is not None and (start is not None or end is not None):
        raise BinanceError(400, -1128, "Combination of optional parameters invalid.")
    if start is not None and end is not None and end - start > DAY_MS:
        raise BinanceError(400, -1127, "More than 24 hours between startTime and endTime.")
    fills = sorted(
        (
            f
            for o in exchange.orders.values()
            if o.account == account and o.venue_symbol == symbol
            and (order_id is None or int(o.order_id) == order_id)
            for f in o.fills
        ),
        key=lambda f: int(f.trade_id),
    )  # fmt: skip
    if start is not None or end is not None:
        low = start if start is not None else end - DAY_MS  # type: ignore[operator]
        high = end if end is not None else low + DAY_MS
        chosen = [f for f in fills if low <= f.time <= high][:limit]
    elif from_id is not None:
        chosen = [f for f in fills if int(f.trade_id) >= from_id][:limit]
    else:
        chosen = fills[-limit:]
    return [
        {
            "symbol": f.venue_symbol,
            "id": int(f.trade_id),
            "orderId": int(f.order_id),
            "orderListId": -1,
            "price": d8(f.price),
            "qty": d8(f.qty),
            "quoteQty": d8(f.quote_amount),
            "commission": d8(f.fee),
            "commissionAsset": f.fee_asset,
            "time": f.time,
            "isBuyer": f.side is Side.BUY,
            "isMaker": f.liquidity is Liquidity.MAKER,
            "isBestMatch": True,
        }
        for f in chosen
    ]


def cancel_all(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    symbol = _text(params, "symbol", True) or ""
    if symbol not in exchange.instruments:
        raise BinanceError(400, -1121, "Invalid symbol.")
    _, events = exchange.cancel_all(account, now, [symbol])
    canceled = [e for e in events if e.kind is EventKind.CANCELED and e.account == account]
    if not canceled:
        raise BinanceError(400, -2011, UNKNOWN_ORDER)
    return [canceled_order(e.order, cancel_client_id(e), e.time) for e in canceled]


def test_order(exchange: Exchange, account: str, params: Params, now: int) -> Any:
    """`order.test`: validate only; nothing reaches the engine."""
    request = new_order(exchange, account, params).request
    instrument = exchange.instrument(request.symbol)
    if request.qty is not None and not instrument.on_lot(request.qty):
        raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
    if request.price is not None and not instrument.on_tick(request.price):
        raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
    if request.stp is not StpMode.NONE and request.stp not in exchange.rules.stp_modes:
        raise BinanceError(400, -1013, "Invalid selfTradePreventionMode.")
    return {}
