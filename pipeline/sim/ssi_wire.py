"""SSI FastConnect Trading v2 payloads rendered from engine state (`schemas/venues/ssi.md`).

Numbers are JSON numbers (integers when integral), times epoch-ms strings, sides `B`/`S`.
Stream messages are `{type, data}`; `notifyID` is the stream's message serial, given by the
caller. Engine events map to stream messages:

| engine event | message | `orderStatus` |
| --- | --- | --- |
| ACCEPTED | orderEvent | `QU` (`SOR` for a stop order) |
| TRIGGERED | orderEvent | `QU` |
| TRADE | orderMatchEvent, then orderEvent | `PF` / `FF` |
| CANCEL_REQUESTED | orderEvent | `WC` |
| CANCELED | orderEvent | `CL` (`FFPC` when part of it had filled) |
| EXPIRED | orderEvent | as CANCELED: SSI cancels the unfilled part of MP/MAK/MOK orders |
| CANCEL_REJECTED | orderError | "Invalid Order Transition Error!" (leaves the order as it is) |

The simulator has no fees on SSI (the stream reports none), so its SSI instruments trade
fee-free and ground truth matches what the pipeline can know.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.sim.engine import EngineEvent, EventKind, Order, OrderType, Side, Status, TimeInForce

ZERO = Decimal(0)
DERIVATIVES_MARKET = "VNFE"
STOCK_MARKET = "VN"


def num(value: Decimal | None) -> int | float:
    """A decimal as SSI writes it: a JSON number (an integer when integral)."""
    if value is None or not value:
        return 0
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def market_id(instrument_id: str) -> str:
    """`VNFE` for VN30 index futures, `VN` for stocks."""
    return DERIVATIVES_MARKET if instrument_id.startswith("VN30F") else STOCK_MARKET


def order_type(order: Order) -> str:
    if order.order_type is OrderType.LIMIT:
        return "LO"
    if order.time_in_force is TimeInForce.FOK:
        return "MOK"
    if order.time_in_force is TimeInForce.IOC or market_id(order.venue_symbol) == "VNFE":
        return "MAK"
    return "MP"


def status_code(order: Order) -> str:
    if order.status is Status.UNTRIGGERED:
        return "SOR"
    if order.is_live:
        if order.cancel_pending:
            return "WC"
        return "PF" if order.filled_qty else "QU"
    if order.status is Status.FILLED and order.filled_qty >= order.qty:
        return "FF"
    return "FFPC" if order.filled_qty else "CL"


def _times(order: Order, when: int) -> dict[str, str]:
    return {"inputTime": str(order.created_at), "modifiedTime": str(when)}


def order_fields(order: Order, when: int, code: str | None = None) -> dict[str, Any]:
    """The order object of stream orderEvents (without notifyID/uniqueID/account)."""
    stop = order.trigger is not None
    rising = stop and (order.trigger.value == "stop_loss") == (order.side is Side.BUY)  # type: ignore[union-attr]
    canceled = order.qty - order.filled_qty - order.remaining
    return {
        "orderID": order.order_id,
        "instrumentID": order.venue_symbol,
        "buySell": "B" if order.side is Side.BUY else "S",
        "orderType": order_type(order),
        "price": num(order.price),
        "quantity": num(order.qty),
        "marketID": market_id(order.venue_symbol),
        "cancelQty": num(canceled),
        "osQty": num(order.remaining),
        "filledQty": num(order.filled_qty),
        "avgPrice": num(order.avg_price),
        "channel": "TA",
        **_times(order, when),
        "isForceSell": "F",
        "isShortSell": "F",
        "orderStatus": code or status_code(order),
        "rejectReason": "",
        "origRequestID": order.orig_client_order_id or order.client_order_id or "",
        "stopOrder": stop,
        "stopPrice": num(order.stop_price),
        "stopType": ("U" if rising else "D") if stop else "",
        "stopStep": 0,
        "profitPrice": 0,
    }


def order_event(order: Order, when: int, notify_id: int, request_id: str | None) -> dict[str, Any]:
    data = order_fields(order, when)
    data = {
        "orderID": data.pop("orderID"),
        "notifyID": notify_id,
        "instrumentID": data.pop("instrumentID"),
        "uniqueID": request_id or data["origRequestID"],
        "account": order.account,
        **data,
    }
    return {"type": "orderEvent", "data": data}


def match_event(event: EngineEvent, notify_id: int) -> dict[str, Any]:
    fill = event.fill
    assert fill is not None
    order = event.order
    return {
        "type": "orderMatchEvent",
        "data": {
            "orderID": order.order_id,
            "notifyID": notify_id,
            "instrumentID": order.venue_symbol,
            "uniqueID": order.client_order_id or "",
            "buySell": "B" if order.side is Side.BUY else "S",
            "matchPrice": num(fill.price),
            "matchQty": num(fill.qty),
            "account": order.account,
            "matchTime": str(fill.time),
        },
    }


def order_error(
    notify_id: int,
    account: str,
    request_id: str,
    code: str,
    message: str,
    order: Order | None = None,
    when: int = 0,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An `orderError`: a failed request (a cancel of a done order, a refused new order)."""
    data: dict[str, Any] = {"errorCode": code, "message": message, "notifyID": notify_id,
                            "uniqueID": request_id, "account": account}  # fmt: skip
    if order is not None:
        data.update(order_fields(order, when))
    elif fields:
        data.update(fields)
    return {"type": "orderError", "data": data}


def stream_messages(event: EngineEvent, next_notify: Any) -> list[dict[str, Any]]:
    """The stream messages of one engine event; `next_notify()` hands out notifyIDs."""
    order, kind, when = event.order, event.kind, event.time
    if kind is EventKind.TRADE:
        match = match_event(event, next_notify())
        return [match, order_event(order, when, next_notify(), None)]
    if kind in (EventKind.ACCEPTED, EventKind.TRIGGERED, EventKind.CANCEL_REQUESTED,
                EventKind.CANCELED, EventKind.EXPIRED):  # fmt: skip
        return [order_event(order, when, next_notify(), event.request_id)]
    if kind is EventKind.CANCEL_REJECTED and event.request_id:
        return [
            order_error(
                next_notify(), order.account, event.request_id, "ORD011",
                "Invalid Order Transition Error!", order, when,
            )
        ]  # fmt: skip
    return []


def book_item(order: Order, audit: bool = False, last_error: Any = None) -> dict[str, Any]:
    """One `orderBook` / `auditOrderBook` item."""
    item: dict[str, Any] = {
        "uniqueID": order.client_order_id or "",
        "orderID": order.order_id,
        "buySell": "B" if order.side is Side.BUY else "S",
        "price": num(order.price),
        "quantity": num(order.qty),
        "filledQty": num(order.filled_qty),
        "orderStatus": status_code(order),
        "marketID": market_id(order.venue_symbol),
        **_times(order, order.updated_at),
        "instrumentID": order.venue_symbol,
        "orderType": order_type(order),
        "cancelQty": num(order.qty - order.filled_qty - order.remaining),
        "avgPrice": num(order.avg_price),
        "isForcesell": "F",
        "isShortsell": "F",
        "rejectReason": "0",
    }
    if audit:
        item["lastErrorEvent"] = last_error
    return item


def book_reply(account: str, orders: list[Order], audit: bool = False,
               errors: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    errors = errors or {}
    return {
        "message": "Success",
        "status": 200,
        "data": {
            "account": account,
            "orders": [book_item(o, audit, errors.get(o.order_id)) for o in orders],
        },
    }


def ok(data: Any) -> dict[str, Any]:
    return {"message": "Success", "status": 200, "data": data}


def error(status: int, message: str) -> dict[str, Any]:
    return {"message": message, "status": status, "data": None}
