"""Binance Spot payloads rendered from engine state: executionReport events and order objects.

Shapes follow `schemas/venues/binance.md` (seed 004, FACTS.md §1): decimal strings with 8
decimals, ids and times as integers. Engine events map to execution types:

| engine event | `x` | `X` |
| --- | --- | --- |
| ACCEPTED, TRIGGERED | NEW | NEW (`w` false while a stop waits) |
| TRADE | TRADE | PARTIALLY_FILLED / FILLED |
| CANCELED | CANCELED (`c` = the cancel's id, `C` = the order's) | CANCELED |
| AMENDED | REPLACED (`q` = new quantity, `c` new id, `C` previous id) | NEW / PARTIALLY_FILLED |
| PREVENTED | TRADE_PREVENTION (`v`, `A`, `B`, `U`) | EXPIRED_IN_MATCH, or live under DECREMENT |
| EXPIRED | EXPIRED with `eR` | EXPIRED |

`I` (execution id) is the engine's event sequence number: unique and increasing per venue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.sim.engine import (
    EndReason,
    EngineEvent,
    EventKind,
    Order,
    OrderType,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
)

ZERO = Decimal(0)

STP_LABELS: dict[StpMode, str] = {
    StpMode.NONE: "NONE",
    StpMode.CANCEL_MAKER: "EXPIRE_MAKER",
    StpMode.CANCEL_TAKER: "EXPIRE_TAKER",
    StpMode.CANCEL_BOTH: "EXPIRE_BOTH",
    StpMode.DECREMENT: "DECREMENT",
}
STP_MODES: dict[str, StpMode] = {label: mode for mode, label in STP_LABELS.items()}


def d8(value: Decimal | None) -> str:
    """A decimal as Binance writes it: 8 decimals (engine grids never need more)."""
    return f"{(value or ZERO):.8f}"


def type_label(order: Order) -> str:
    if order.trigger is None:
        if order.post_only:
            return "LIMIT_MAKER"
        return "LIMIT" if order.order_type is OrderType.LIMIT else "MARKET"
    name = "STOP_LOSS" if order.trigger is TriggerKind.STOP_LOSS else "TAKE_PROFIT"
    return f"{name}_LIMIT" if order.order_type is OrderType.LIMIT else name


def tif_label(order: Order) -> str:
    return order.time_in_force.value.upper()


def status_label(order: Order) -> str:
    status = order.status
    if status in (Status.UNTRIGGERED, Status.OPEN):
        return "NEW"
    if status is Status.CANCELED and order.end_reason is EndReason.SELF_TRADE_PREVENTION:
        return "EXPIRED_IN_MATCH"
    return status.value.upper()


def expiry_reason(order: Order) -> str:
    if order.end_reason is EndReason.EXCHANGE:
        return "EXCHANGE_CANCELED"
    if order.time_in_force is TimeInForce.FOK:
        return "UNFILLED_FOK_ORDER_EXPIRED"
    if order.order_type is OrderType.MARKET:
        return "INSUFFICIENT_LIQUIDITY"
    return "UNFILLED_IOC_QUANTITY_EXPIRED"


def cancel_client_id(event: EngineEvent) -> str:
    """The `newClientOrderId` of the cancel behind a CANCELED event (made up if none was
    sent, as Binance generates one)."""
    return event.request_id or f"sim-cancel-{event.seq}"


def _on_book(order: Order) -> bool:
    return order.is_live and order.status is not Status.UNTRIGGERED


def execution_report(event: EngineEvent) -> dict[str, Any] | None:
    """The bare `executionReport` of one engine event, or None when Binance says nothing."""
    order, kind = event.order, event.kind
    execution = {
        EventKind.ACCEPTED: "NEW",
        EventKind.TRIGGERED: "NEW",
        EventKind.TRADE: "TRADE",
        EventKind.CANCELED: "CANCELED",
        EventKind.AMENDED: "REPLACED",
        EventKind.PREVENTED: "TRADE_PREVENTION",
        EventKind.EXPIRED: "EXPIRED",
    }.get(kind)
    if execution is None:
        return None
    fill = event.fill
    client_id, original_id = order.client_order_id or "", ""
    if kind is EventKind.CANCELED:
        client_id, original_id = cancel_client_id(event), client_id
    elif kind is EventKind.AMENDED:
        original_id = order.orig_client_order_id or ""
    report: dict[str, Any] = {
        "e": "executionReport",
        "E": event.time,
        "s": order.venue_symbol,
        "c": client_id,
        "S": order.side.value.upper(),
        "o": type_label(order),
        "f": tif_label(order),
        "q": d8(ZERO if order.quote_sized and order.is_live else order.qty),
        "p": d8(order.price),
        "P": d8(order.stop_price),
        "F": d8(ZERO),
        "g": -1,
        "C": original_id,
        "x": execution,
        "X": status_label(order),
        "r": "NONE",
        "i": int(order.order_id),
        "l": d8(fill.qty if fill else ZERO),
        "z": d8(order.filled_qty),
        "L": d8(fill.price if fill else ZERO),
        "n": d8(fill.fee) if fill else "0",
        "N": fill.fee_asset if fill else None,
        "T": event.time,
        "t": int(fill.trade_id) if fill else -1,
        "I": event.seq,
        "w": _on_book(order),
        "m": bool(fill and fill.liquidity.value == "maker"),
        "M": False,
        "O": order.created_at,
        "Z": d8(order.filled_quote),
        "Y": d8(fill.quote_amount if fill else ZERO),
        "Q": d8(order.quote_qty),
        "V": STP_LABELS[order.stp],
    }
    if order.working_at is not None:
        report["W"] = order.working_at
    if order.prevented_qty:
        report["A"] = d8(order.prevented_qty)
    if kind is EventKind.PREVENTED:
        report.update(
            v=event.match_id,
            B=d8(event.qty),
            u=1,
            U=int(event.counter_order_id or 0),
        )
    if kind is EventKind.EXPIRED:
        report["eR"] = expiry_reason(order)
    return report


def _common(order: Order) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "symbol": order.venue_symbol,
        "orderId": int(order.order_id),
        "orderListId": -1,
        "clientOrderId": order.client_order_id or "",
        "price": d8(order.price),
        "origQty": d8(ZERO if order.quote_sized and order.is_live else order.qty),
        "executedQty": d8(order.filled_qty),
        "origQuoteOrderQty": d8(order.quote_qty),
        "cummulativeQuoteQty": d8(order.filled_quote),
        "status": status_label(order),
        "timeInForce": tif_label(order),
        "type": type_label(order),
        "side": order.side.value.upper(),
    }
    if order.trigger is not None:
        obj["stopPrice"] = d8(order.stop_price)
    obj["workingTime"] = order.working_at if order.working_at is not None else -1
    obj["selfTradePreventionMode"] = STP_LABELS[order.stp]
    if order.prevented_qty:
        obj["preventedQuantity"] = d8(order.prevented_qty)
    return obj


def placed_order(order: Order, response_type: str, placed: list[EngineEvent]) -> dict[str, Any]:
    """`order.place` result: ACK, RESULT, or FULL with the fills of this placement."""
    if response_type == "ACK":
        return {
            "symbol": order.venue_symbol,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id or "",
            "transactTime": order.created_at,
        }
    obj = _common(order)
    obj = {**{k: obj[k] for k in list(obj)[:4]}, "transactTime": order.created_at, **obj}
    if response_type == "FULL":
        obj["fills"] = [
            {
                "price": d8(event.fill.price),
                "qty": d8(event.fill.qty),
                "commission": d8(event.fill.fee),
                "commissionAsset": event.fill.fee_asset,
                "tradeId": int(event.fill.trade_id),
            }
            for event in placed
            if event.fill is not None and event.order_id == order.order_id
            and event.time == order.created_at
        ]  # fmt: skip
    return obj


def order_status(order: Order) -> dict[str, Any]:
    """`order.status` / `openOrders.status` item."""
    obj = _common(order)
    obj.setdefault("stopPrice", d8(ZERO))
    obj.update(
        icebergQty=d8(ZERO),
        time=order.created_at,
        updateTime=order.updated_at,
        isWorking=order.working_at is not None,
    )
    return obj


def canceled_order(order: Order, cancel_id: str, when: int) -> dict[str, Any]:
    """`order.cancel` result (also a `cancelResponse` / `openOrders.cancelAll` item)."""
    obj = _common(order)
    return {
        "symbol": obj.pop("symbol"),
        "origClientOrderId": order.client_order_id or "",
        "orderId": obj.pop("orderId"),
        "orderListId": obj.pop("orderListId"),
        "clientOrderId": cancel_id,
        "transactTime": when,
        **{k: v for k, v in obj.items() if k != "clientOrderId"},
    }


def amended_order(order: Order, when: int, execution_id: int) -> dict[str, Any]:
    """`order.amend.keepPriority` result."""
    return {
        "transactTime": when,
        "executionId": execution_id,
        "amendedOrder": {
            "symbol": order.venue_symbol,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "origClientOrderId": order.orig_client_order_id or "",
            "clientOrderId": order.client_order_id or "",
            "price": d8(order.price),
            "qty": d8(order.qty),
            "executedQty": d8(order.filled_qty),
            "preventedQty": d8(order.prevented_qty),
            "quoteOrderQty": d8(order.quote_qty),
            "cumulativeQuoteQty": d8(order.filled_quote),
            "status": status_label(order),
            "timeInForce": tif_label(order),
            "type": type_label(order),
            "side": order.side.value.upper(),
            "workingTime": order.working_at if order.working_at is not None else -1,
            "selfTradePreventionMode": STP_LABELS[order.stp],
        },
    }
