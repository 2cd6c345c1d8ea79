"""Coinone v2.1 payloads rendered from engine state: REST order objects, the cancel reply,
completed trades and MYORDER frames (`schemas/venues/coinone.md`, FACTS.md §3).

REST numbers are decimal strings, times epoch ms; REST sides `BUY`/`SELL`, MYORDER `BID`/`ASK`
with short keys. Engine events map to MYORDER `st`:

| engine event | `st` |
| --- | --- |
| ACCEPTED | `wait` (`not_triggered` for a STOP_LIMIT) |
| TRIGGERED | `wait` |
| TRADE | `trade` (`ti`, `ep`, `eq`, `ef`), `trade_done` when it completed the order |
| CANCELED | `cancel` (`eq` = the quantity removed); `cancel_post_only` for a crossing post-only |
| EXPIRED | a market remainder: `cancel`; an amount-sized buy that spent all: `trade_done` |

REST `status` is derived from the order as the detail endpoint shows it (`LIVE`,
`PARTIALLY_FILLED`, `NOT_TRIGGERED`, `TRIGGERED`, `FILLED`, `CANCELED`, `PARTIALLY_CANCELED`,
`NOT_TRIGGERED_CANCELED`, `CANCELED_NO_ORDER`, `CANCELED_UNDER_PRODUCT_UNIT`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.sim.engine import EndReason, EngineEvent, EventKind, Order, OrderType, Side, Status
from pipeline.venues.coinone.mapping import MYORDER_FIELDS

ZERO = Decimal(0)


def s(value: Decimal | None) -> str | None:
    """A decimal as Coinone writes it: a plain string without exponent or trailing zeros."""
    if value is None:
        return None
    return "0" if not value else f"{value.normalize():f}"


def type_label(order: Order) -> str:
    if order.trigger is not None:
        return "STOP_LIMIT"
    return "LIMIT" if order.order_type is OrderType.LIMIT else "MARKET"


def side_label(order: Order) -> str:
    return "BUY" if order.side is Side.BUY else "SELL"


def status_label(order: Order) -> str:
    """The v2.1 detail `status` of the order as it stands."""
    filled = order.filled_qty
    if order.status is Status.UNTRIGGERED:
        return "NOT_TRIGGERED"
    if order.is_live:
        if filled:
            return "PARTIALLY_FILLED"
        return "TRIGGERED" if order.trigger is not None else "LIVE"
    if order.status is Status.FILLED:
        if order.quote_sized and (order.quote_qty or ZERO) > order.filled_quote:
            return "CANCELED_UNDER_PRODUCT_UNIT"
        return "FILLED"
    if order.status is Status.EXPIRED or order.end_reason is EndReason.UNFILLED_REMAINDER:
        return "CANCELED_NO_ORDER"
    if order.trigger is not None and order.working_at is None:
        return "NOT_TRIGGERED_CANCELED"
    return "PARTIALLY_CANCELED" if filled else "CANCELED"


def _amounts(order: Order) -> dict[str, str | None]:
    if not order.quote_sized:
        return {"traded_amount": s(order.filled_quote), "original_amount": None,
                "canceled_amount": None}  # fmt: skip
    quote = order.quote_qty or ZERO
    canceled = quote - order.filled_quote if not order.is_live else ZERO
    return {"traded_amount": s(order.filled_quote), "original_amount": s(quote),
            "canceled_amount": s(canceled)}  # fmt: skip


def order_object(order: Order, with_status: bool = True) -> dict[str, Any]:
    """The v2.1 order object (detail); `with_status=False`: an active_orders item."""
    quote_sized = order.quote_sized
    rate = order.instrument.taker_fee_rate
    obj: dict[str, Any] = {
        "order_id": order.order_id,
        "type": type_label(order),
        "quote_currency": order.instrument.quote,
        "target_currency": order.instrument.base,
    }
    if with_status:
        obj["status"] = status_label(order)
    obj.update(
        side=side_label(order),
        fee=s(order.fee),
        **({"average_fee_rate": s(rate)} if quote_sized else {"fee_rate": s(rate)}),
        average_executed_price=s(order.avg_price) or "0",
    )
    if with_status:
        obj["updated_at"] = order.updated_at
    obj.update(
        ordered_at=order.created_at,
        price=s(order.price),
        original_qty=None if quote_sized else s(order.qty),
        executed_qty=s(order.filled_qty),
        canceled_qty=None if quote_sized else s(order.qty - order.filled_qty - order.remaining),
        remain_qty=None if quote_sized else s(order.remaining),
        limit_price=None,
        **_amounts(order),
        is_triggered=None if order.trigger is None else order.status is not Status.UNTRIGGERED,
        trigger_price=s(order.stop_price),
        user_order_id=order.client_order_id,
    )
    return obj


def detail_reply(order: Order) -> dict[str, Any]:
    return {"result": "success", "error_code": "0", "order": order_object(order)}


def active_orders_reply(orders: list[Order]) -> dict[str, Any]:
    return {
        "result": "success",
        "error_code": "0",
        "active_orders": [order_object(o, with_status=False) for o in orders],
    }


def cancel_reply(order: Order, canceled_now: Decimal, when: int) -> dict[str, Any]:
    """The v2.1 cancel reply (unmodified shape): `qty` is what this cancel removed."""
    return {
        "result": "success",
        "error_code": "0",
        "order_id": order.order_id,
        "price": s(order.price),
        "qty": s(canceled_now),
        "remain_qty": s(order.remaining),
        "side": side_label(order),
        "original_qty": s(order.qty),
        "traded_qty": s(order.filled_qty),
        "canceled_qty": s(order.qty - order.filled_qty - order.remaining),
        "fee": s(order.fee),
        "fee_rate": s(order.instrument.taker_fee_rate),
        "avg_price": s(order.avg_price),
        "canceled_at": when,  # ms (the docs' example shows seconds; the normalizer takes both)
        "ordered_at": order.created_at,
    }


def trade_item(order: Order, index: int) -> dict[str, Any]:
    """One `completed_orders` item: the order's `index`-th fill."""
    fill = order.fills[index]
    liquidity_rate = (
        order.instrument.maker_fee_rate
        if fill.liquidity.value == "maker"
        else order.instrument.taker_fee_rate
    )
    return {
        "trade_id": fill.trade_id,
        "order_id": order.order_id,
        "quote_currency": order.instrument.quote,
        "target_currency": order.instrument.base,
        "order_type": type_label(order),
        "is_ask": fill.side is Side.SELL,
        "is_maker": fill.liquidity.value == "maker",
        "price": s(fill.price),
        "qty": s(fill.qty),
        "timestamp": fill.time,
        "fee_rate": s(liquidity_rate),
        "fee": s(fill.fee),
        "fee_currency": fill.fee_asset,
    }


def completed_orders_reply(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"result": "success", "error_code": "0", "completed_orders": items}


def error_reply(code: str, message: str) -> dict[str, Any]:
    return {"result": "error", "error_code": code, "error_msg": message}


# -- MYORDER ----------------------------------------------------------------------------


def _frame(order: Order, state: str, when: int, **extra: Any) -> dict[str, Any]:
    quote_sized = order.quote_sized
    data: dict[str, Any] = {
        "qc": order.instrument.quote,
        "tc": order.instrument.base,
        "oi": order.order_id,
        "t": type_label(order),
        "st": state,
        "s": "BID" if order.side is Side.BUY else "ASK",
        "op": s(order.price),
        "oq": None if quote_sized else s(order.qty),
        "oa": s(order.quote_qty) if quote_sized else None,
        "ti": None,
        "im": None,
        "ep": None,
        "eq": None,
        "ef": None,
        "rq": None if quote_sized else s(order.remaining),
        "ra": s(order.budget_left) if quote_sized else None,
        "ui": order.client_order_id,
        "et": None,
        "ot": order.created_at,
        "ts": when,
    }
    data.update(extra)
    return {"r": "DATA", "c": "MYORDER", "d": data}


_LONG_KEY = {short: long for long, short in MYORDER_FIELDS}


def long_keys(frame: dict[str, Any]) -> dict[str, Any]:
    """A SHORT-format frame respelled in the DEFAULT format (Coinone's long keys)."""
    return {
        _LONG_KEY.get(key, key): (
            {_LONG_KEY.get(k, k): v for k, v in value.items()} if key == "d" else value
        )
        for key, value in frame.items()
    }


def myorder_frames(event: EngineEvent) -> list[dict[str, Any]]:
    """The MYORDER DATA frames one engine event produces."""
    order, kind, when = event.order, event.kind, event.time
    if kind is EventKind.ACCEPTED:
        state = "not_triggered" if order.status is Status.UNTRIGGERED else "wait"
        return [_frame(order, state, when)]
    if kind is EventKind.TRIGGERED:
        return [_frame(order, "wait", when)]
    if kind is EventKind.TRADE:
        fill = event.fill
        assert fill is not None
        done = order.status is Status.FILLED and not order.quote_sized
        return [
            _frame(
                order, "trade_done" if done else "trade", when,
                ti=fill.trade_id, im="true" if fill.liquidity.value == "maker" else "false",
                ep=s(fill.price), eq=s(fill.qty), ef=s(fill.fee), et=fill.time,
            )
        ]  # fmt: skip
    if kind is EventKind.CANCELED:
        state = "cancel"
        if event.order.end_reason is EndReason.EXCHANGE and order.post_only:
            state = "cancel_post_only"
        return [_frame(order, state, when, eq=s(event.qty or ZERO), et=when)]
    if kind is EventKind.EXPIRED:
        if order.status is Status.FILLED:
            return [_frame(order, "trade_done", when)]
        return [_frame(order, "cancel", when, eq=s(event.qty or ZERO), et=when)]
    return []  # no partial cancel, amend or STP on Coinone v2.1; cancels are synchronous
