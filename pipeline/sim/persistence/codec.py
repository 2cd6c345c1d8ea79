"""The simulator's state as JSON-ready values, and back: orders, fills, requests, engines.

Money and quantities are `Decimal` in the engine and decimal *strings* here (`str(d)`
round-trips exactly, trailing zeros included), never floats. Enums are their values, an
order's instrument is its venue symbol (looked up in the venue's kit on the way back), and
an order's fills are not stored twice: they are the engine's fill list, regrouped by order.

Every field of `Order`, `Fill` and `OrderRequest` is listed in exactly one of the tables
below; `unlisted_fields()` names any field a later change added without saying how to keep
it (a test asserts it is empty), so nothing is silently dropped from a saved state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pipeline.sim.engine import (
    EndReason,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderRequest,
    OrderType,
    Side,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
)
from pipeline.sim.engine.state import EngineState

Json = dict[str, Any]

_ORDER_DECIMALS = ("price", "qty", "quote_qty", "stop_price", "orig_qty", "filled_qty",
                   "filled_quote", "canceled_qty", "prevented_qty", "fee")  # fmt: skip
_ORDER_ENUMS: dict[str, type[StrEnum]] = {
    "side": Side, "order_type": OrderType, "time_in_force": TimeInForce,
    "trigger": TriggerKind, "stp": StpMode, "status": Status, "end_reason": EndReason,
}  # fmt: skip
_ORDER_PLAIN = ("order_id", "client_order_id", "venue", "account", "post_only", "created_at",
                "updated_at", "expire_at", "orig_client_order_id", "trades_count",
                "amend_count", "working_at", "cancel_pending", "priority")  # fmt: skip
_ORDER_SPECIAL = ("instrument", "fills")  # the venue symbol; the engine's fill list

_FILL_DECIMALS = ("price", "qty", "fee")
_FILL_ENUMS: dict[str, type[StrEnum]] = {"side": Side, "liquidity": Liquidity}
_FILL_PLAIN = ("venue", "account", "symbol", "venue_symbol", "order_id", "trade_id",
               "fee_asset", "time", "counter_order_id")  # fmt: skip

_REQUEST_DECIMALS = ("qty", "price", "quote_qty", "stop_price")
_REQUEST_ENUMS: dict[str, type[StrEnum]] = {
    "side": Side, "order_type": OrderType, "time_in_force": TimeInForce,
    "trigger": TriggerKind, "stp": StpMode,
}  # fmt: skip
_REQUEST_PLAIN = ("account", "symbol", "post_only", "client_order_id", "expire_at")


def unlisted_fields() -> list[str]:
    """Fields of the engine's records that no table here knows (must stay empty)."""
    known = {
        Order: {*_ORDER_DECIMALS, *_ORDER_ENUMS, *_ORDER_PLAIN, *_ORDER_SPECIAL},
        Fill: {*_FILL_DECIMALS, *_FILL_ENUMS, *_FILL_PLAIN},
        OrderRequest: {*_REQUEST_DECIMALS, *_REQUEST_ENUMS, *_REQUEST_PLAIN},
    }
    return [
        f"{kind.__name__}.{f.name}"
        for kind, names in known.items()
        for f in dataclasses.fields(kind)
        if f.name not in names
    ]


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def undec(value: Any) -> Decimal | None:
    """A decimal string back to `Decimal`; anything else (a float above all) is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {value!r}")
    parsed = Decimal(value)
    if not parsed.is_finite():
        raise ValueError(f"expected a finite decimal, got {value!r}")
    return parsed


def _encode(
    obj: Any, decimals: tuple[str, ...], enums: Mapping[str, type[StrEnum]], plain: tuple[str, ...]
) -> Json:
    out: Json = {name: getattr(obj, name) for name in plain}
    for name in decimals:
        out[name] = dec(getattr(obj, name))
    for name in enums:
        value = getattr(obj, name)
        out[name] = None if value is None else value.value
    return out


def _decode(
    data: Mapping[str, Any],
    decimals: tuple[str, ...],
    enums: Mapping[str, type[StrEnum]],
    plain: tuple[str, ...],
) -> Json:
    out: Json = {name: data[name] for name in plain}
    for name in decimals:
        out[name] = undec(data[name])
    for name, kind in enums.items():
        out[name] = None if data[name] is None else kind(data[name])
    return out


def encode_order(order: Order) -> Json:
    out = _encode(order, _ORDER_DECIMALS, _ORDER_ENUMS, _ORDER_PLAIN)
    out["symbol"] = order.venue_symbol
    return out


def decode_order(data: Mapping[str, Any], instruments: Mapping[str, Instrument]) -> Order:
    symbol = data["symbol"]
    instrument = instruments.get(symbol)
    if instrument is None:
        raise ValueError(f"order {data.get('order_id')!r}: unknown symbol {symbol!r}")
    fields = _decode(data, _ORDER_DECIMALS, _ORDER_ENUMS, _ORDER_PLAIN)
    return Order(instrument=instrument, **fields)


def encode_fill(fill: Fill) -> Json:
    return _encode(fill, _FILL_DECIMALS, _FILL_ENUMS, _FILL_PLAIN)


def decode_fill(data: Mapping[str, Any]) -> Fill:
    return Fill(**_decode(data, _FILL_DECIMALS, _FILL_ENUMS, _FILL_PLAIN))


def encode_request(request: OrderRequest) -> Json:
    return _encode(request, _REQUEST_DECIMALS, _REQUEST_ENUMS, _REQUEST_PLAIN)


def decode_request(data: Mapping[str, Any]) -> OrderRequest:
    return OrderRequest(**_decode(data, _REQUEST_DECIMALS, _REQUEST_ENUMS, _REQUEST_PLAIN))


def encode_engine(state: EngineState) -> Json:
    return {
        "orders": [encode_order(o) for o in state.orders],
        "fills": [encode_fill(f) for f in state.fills],
        "last_price": {symbol: str(price) for symbol, price in state.last_price.items()},
        "pending_cancels": [list(entry) for entry in state.pending_cancels],
        "by_client": [list(entry) for entry in state.by_client],
        "seq": state.seq,
        "priority": state.priority,
        "now": state.now,
        "ids": dict(state.ids),
    }


def decode_engine(data: Mapping[str, Any], instruments: Mapping[str, Instrument]) -> EngineState:
    """An `EngineState` whose orders carry their fills again (in execution order)."""
    fills = [decode_fill(item) for item in data["fills"]]
    orders = [decode_order(item, instruments) for item in data["orders"]]
    by_id = {order.order_id: order for order in orders}
    for fill in fills:
        owner = by_id.get(fill.order_id)
        if owner is None:
            raise ValueError(f"fill {fill.trade_id!r} names unknown order {fill.order_id!r}")
        owner.fills.append(fill)
    last_price = {symbol: undec(price) for symbol, price in data["last_price"].items()}
    return EngineState(
        orders=orders,
        fills=fills,
        last_price={symbol: price for symbol, price in last_price.items() if price is not None},
        pending_cancels=[(str(o), int(due), rid) for o, due, rid in data["pending_cancels"]],
        by_client=[(str(a), str(c), str(o)) for a, c, o in data["by_client"]],
        seq=int(data["seq"]),
        priority=int(data["priority"]),
        now=int(data["now"]),
        ids={name: int(value) for name, value in data["ids"].items()},
    )


def encode_prices(prices: Mapping[str, Decimal]) -> Json:
    return {symbol: str(price) for symbol, price in prices.items()}


def decode_prices(data: Mapping[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for symbol, price in data.items():
        value = undec(price)
        if value is None:
            raise ValueError(f"price of {symbol!r} is missing")
        out[symbol] = value
    return out
