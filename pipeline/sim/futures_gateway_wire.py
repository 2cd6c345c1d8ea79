"""Futures gateway payloads rendered from engine state (`schemas/venues/futures_gateway.md`).

The gateway trades linear perpetuals (`BTCUSDT`), quote and settlement `USDT`; its unified
symbol is CCXT's swap notation `BTC/USDT:USDT`, which `PerpetualInstrument` gives the engine
so that fills, positions and ground truth carry the symbol the normalizer produces.

Order `status` from the engine's order: `NEW` (a TP/SL waiting for its trigger), `OPEN`,
`TRIGGERED` (a TP/SL whose market order works, nothing filled yet), `PARTIALLY_FILLED`,
`CANCELLATION_RAISED` (a cancel registered, not yet done), `FILLED`, `CANCELLED`, `EXPIRED`
(an IOC/FOK/market remainder released). Decimal strings, times epoch ms.

Trade objects (the trade list) render one engine `Fill`: one side of one execution, so a
self-trade renders twice with one `trade_id`, once per order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.sim.engine import (
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderType,
    Side,
    Status,
    TimeInForce,
    TriggerKind,
)

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PerpetualInstrument(Instrument):
    """A linear perpetual: `BTC/USDT:USDT` (settled in `settle`)."""

    settle: str = "USDT"

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}:{self.settle}"


def s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return "0" if not value else f"{value.normalize():f}"


def type_label(order: Order) -> str:
    if order.trigger is None:
        return "LIMIT" if order.order_type is OrderType.LIMIT else "MARKET"
    return "STOP_MARKET" if order.trigger is TriggerKind.STOP_LOSS else "TAKE_PROFIT_MARKET"


def time_in_force(order: Order) -> str | None:
    if order.order_type is not OrderType.LIMIT:
        return None
    if order.post_only:
        return "GTX"
    return {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}[
        order.time_in_force
    ]


def status_label(order: Order) -> str:
    if order.status is Status.UNTRIGGERED:
        return "CANCELLATION_RAISED" if order.cancel_pending else "NEW"
    if order.is_live:
        if order.cancel_pending:
            return "CANCELLATION_RAISED"
        if order.filled_qty:
            return "PARTIALLY_FILLED"
        return "TRIGGERED" if order.trigger is not None else "OPEN"
    if order.status is Status.FILLED:
        return "FILLED"
    return "CANCELLED" if order.status is Status.CANCELED else "EXPIRED"


def order_object(order: Order, updated_at: int | None = None) -> dict[str, Any]:
    """The order object; `updated_at` overrides the engine's (a cancel request's time)."""
    settle = getattr(order.instrument, "settle", order.instrument.quote)
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "exchange": order.account,
        "symbol": order.venue_symbol,
        "side": "BUY" if order.side is Side.BUY else "SELL",
        "type": type_label(order),
        "status": status_label(order),
        "time_in_force": time_in_force(order),
        "quantity": s(order.qty),
        "executed_quantity": s(order.filled_qty),
        "price": s(order.price),
        "average_price": s(order.avg_price),
        "stop_price": s(order.stop_price),
        "reduce_only": False,
        "fee": s(order.fee),
        "fee_asset": settle,
        "created_at": order.created_at,
        "updated_at": max(order.updated_at, updated_at or 0),
    }


def order_reply(order: Order, updated_at: int | None = None) -> dict[str, Any]:
    return {"data": order_object(order, updated_at)}


def open_orders_reply(orders: list[Order], raised_at: dict[str, int]) -> dict[str, Any]:
    return {"data": {"orders": [order_object(o, raised_at.get(o.order_id)) for o in orders]}}


def trade_object(fill: Fill, client_order_id: str | None) -> dict[str, Any]:
    """One execution of one order, as the trade list renders it."""
    return {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "client_order_id": client_order_id,
        "symbol": fill.venue_symbol,
        "side": "BUY" if fill.side is Side.BUY else "SELL",
        "price": s(fill.price),
        "quantity": s(fill.qty),
        "fee": s(fill.fee),
        "fee_asset": fill.fee_asset,
        "is_maker": fill.liquidity is Liquidity.MAKER,
        "time": fill.time,
    }


def trades_reply(trades: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": {"trades": trades}}


def cancel_all_reply(order_ids: list[str]) -> dict[str, Any]:
    return {"data": {"orders_ids": order_ids}}


def error_reply(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
