"""Upbit payloads rendered from engine state: myOrder frames and REST order objects.

Shapes follow `schemas/venues/upbit.md` (seed 003 and FACTS.md §2): WebSocket numbers are
JSON doubles, REST numbers decimal strings; WebSocket sides `BID`/`ASK`, REST `bid`/`ask`.
Every engine event maps to at most two frames:

| engine event | myOrder `state` |
| --- | --- |
| ACCEPTED | `wait` (`watch` for a conditional order) |
| TRIGGERED | `wait` |
| TRADE | `trade` (the fill's price and volume), then `done` if it completed the order |
| CANCELED | `cancel` |
| PREVENTED | `prevented` with the `smp_type` applied (`reduce` leaves the order live) |
| EXPIRED | `cancel` (IOC/FOK/market remainder); a `price` order that spent all: `done` |

The simulator's quantities sit on decimal grids short enough (at most 15 significant digits)
that a JSON double carries them exactly, so the normalizer's `repr` round trip gives back the
engine's Decimals; only derived averages may differ in the last binary digit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pipeline.sim.engine import EngineEvent, EventKind, Order, OrderType, Side, Status, StpMode

ZERO = Decimal(0)
KST = timezone(timedelta(hours=9))

SIMPLE_NAMES: dict[str, str] = {
    "type": "ty", "code": "cd", "uuid": "uid", "ask_bid": "ab", "order_type": "ot",
    "state": "s", "trade_uuid": "tuid", "price": "p", "avg_price": "ap", "volume": "v",
    "remaining_volume": "rv", "executed_volume": "ev", "trades_count": "tc",
    "reserved_fee": "rsf", "remaining_fee": "rmf", "paid_fee": "pf", "locked": "l",
    "executed_funds": "ef", "time_in_force": "tif", "trade_fee": "tf", "is_maker": "im",
    "identifier": "id", "smp_type": "smpt", "prevented_volume": "pv",
    "prevented_locked": "pl", "trade_timestamp": "ttms", "order_timestamp": "otms",
    "timestamp": "tms", "stream_type": "st",
}  # fmt: skip
"""DEFAULT field name -> SIMPLE short name (seed 003's tables)."""

SMP_TYPES: dict[StpMode, str | None] = {
    StpMode.NONE: None,
    StpMode.CANCEL_MAKER: "cancel_maker",
    StpMode.CANCEL_TAKER: "cancel_taker",
    StpMode.DECREMENT: "reduce",
}
SMP_MODES: dict[str, StpMode] = {name: mode for mode, name in SMP_TYPES.items() if name}


def ord_type(order: Order) -> str:
    if order.order_type is OrderType.LIMIT:
        return "limit"
    return "price" if order.quote_sized else "market"


def time_in_force(order: Order) -> str | None:
    if order.post_only:
        return "post_only"
    return None if order.time_in_force.value == "gtc" else order.time_in_force.value


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return "0" if not value else f"{value.normalize():f}"


def _money(order: Order) -> dict[str, Decimal]:
    """reserved/remaining/paid fee and locked funds, as Upbit's order object states them."""
    rate = order.instrument.taker_fee_rate
    if order.side is Side.BUY:
        notional = order.quote_qty if order.quote_sized else (order.price or ZERO) * order.qty
        reserved = notional * rate  # type: ignore[operator]
        remaining_fee = max(reserved - order.fee, ZERO) if order.is_live else ZERO
        working = (
            order.budget_left if order.quote_sized else (order.price or ZERO) * order.remaining
        )
        locked = working + remaining_fee if order.is_live else ZERO
        prevented_locked = order.prevented_qty * (order.price or ZERO)
    else:
        reserved = remaining_fee = ZERO
        locked = order.remaining
        prevented_locked = order.prevented_qty
    return {
        "reserved_fee": reserved,
        "remaining_fee": remaining_fee,
        "locked": locked,
        "prevented_locked": prevented_locked,
    }


def _order_frame(order: Order, state: str, when: int, stream_type: str) -> dict[str, Any]:
    money = _money(order)
    quote_sized = order.quote_sized
    return {
        "type": "myOrder",
        "code": order.venue_symbol,
        "uuid": order.order_id,
        "ask_bid": "BID" if order.side is Side.BUY else "ASK",
        "order_type": ord_type(order),
        "state": state,
        "trade_uuid": None,
        "price": _f(order.quote_qty if quote_sized else order.price),
        "avg_price": _f(order.avg_price) or 0.0,
        "volume": None if quote_sized else _f(order.qty),
        "remaining_volume": None if quote_sized else _f(order.remaining),
        "executed_volume": _f(order.filled_qty),
        "trades_count": order.trades_count,
        "reserved_fee": _f(money["reserved_fee"]),
        "remaining_fee": _f(money["remaining_fee"]),
        "paid_fee": _f(order.fee),
        "locked": _f(money["locked"]),
        "executed_funds": _f(order.filled_quote),
        "time_in_force": time_in_force(order),
        "trade_fee": None,
        "is_maker": None,
        "identifier": order.client_order_id,
        "smp_type": SMP_TYPES.get(order.stp),
        "prevented_volume": _f(order.prevented_qty),
        "prevented_locked": _f(money["prevented_locked"]),
        "trade_timestamp": None,
        "order_timestamp": order.created_at,
        "timestamp": when,
        "stream_type": stream_type,
    }


def _end_state(event: EngineEvent) -> str:
    order = event.order
    if order.status is Status.FILLED and (not order.quote_sized or order.budget_left == 0):
        return "done"
    return "cancel"


def my_order_frames(event: EngineEvent) -> list[dict[str, Any]]:
    """The DEFAULT-format myOrder frames one engine event produces (REALTIME)."""
    order, kind, when = event.order, event.kind, event.time
    if kind is EventKind.ACCEPTED:
        state = "watch" if order.status is Status.UNTRIGGERED else "wait"
        return [_order_frame(order, state, when, "REALTIME")]
    if kind is EventKind.TRIGGERED:
        return [_order_frame(order, "wait", when, "REALTIME")]
    if kind is EventKind.TRADE:
        fill = event.fill
        assert fill is not None
        frame = _order_frame(order, "trade", when, "REALTIME")
        frame.update(
            trade_uuid=fill.trade_id,
            price=_f(fill.price),
            volume=_f(fill.qty),
            trade_fee=_f(fill.fee),
            is_maker=fill.liquidity.value == "maker",
            trade_timestamp=fill.time,
        )
        frames = [frame]
        if order.status is Status.FILLED and not order.quote_sized:
            frames.append(_order_frame(order, "done", when, "REALTIME"))
        return frames
    if kind is EventKind.CANCELED:
        frame = _order_frame(order, "cancel", when, "REALTIME")
        frame["remaining_volume"] = None if order.quote_sized else _f(event.qty)
        return [frame]
    if kind is EventKind.PREVENTED:
        frame = _order_frame(order, "prevented", when, "REALTIME")
        frame["smp_type"] = SMP_TYPES.get(event.stp or StpMode.NONE)
        return [frame]
    if kind is EventKind.EXPIRED:
        frame = _order_frame(order, _end_state(event), when, "REALTIME")
        if frame["state"] == "cancel" and not order.quote_sized:
            frame["remaining_volume"] = _f(event.qty)
        return [frame]
    return []  # CANCEL_REQUESTED / CANCEL_REJECTED: Upbit says nothing on the stream


def snapshot_frame(order: Order, when: int) -> dict[str, Any]:
    """A SNAPSHOT frame restating a live order (sent on subscription when asked for)."""
    state = "watch" if order.status is Status.UNTRIGGERED else "wait"
    return _order_frame(order, state, when, "SNAPSHOT")


def simple(frame: dict[str, Any]) -> dict[str, Any]:
    """The SIMPLE format of a DEFAULT frame: the same values under short names."""
    return {SIMPLE_NAMES[name]: value for name, value in frame.items()}


def rest_state(order: Order) -> str:
    """REST knows only wait / watch / done / cancel (a prevented order reads `cancel`)."""
    if order.status is Status.UNTRIGGERED:
        return "watch"
    if order.is_live:
        return "wait"
    if order.status is Status.FILLED and (not order.quote_sized or order.budget_left == 0):
        return "done"
    return "cancel"


def created_at(ms: int) -> str:
    """Upbit's ISO time in KST with an offset, e.g. `2025-01-01T12:53:20+09:00`."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(KST).isoformat(timespec="seconds")


def rest_order(order: Order, with_trades: bool = False) -> dict[str, Any]:
    """The REST order object (`GET /v1/order`, `DELETE /v1/order`, `GET /v1/orders/open`)."""
    money = _money(order)
    quote_sized = order.quote_sized
    obj: dict[str, Any] = {
        "uuid": order.order_id,
        "side": "bid" if order.side is Side.BUY else "ask",
        "ord_type": ord_type(order),
        "price": _s(order.quote_qty if quote_sized else order.price),
        "state": rest_state(order),
        "market": order.venue_symbol,
        "created_at": created_at(order.created_at),
        "volume": None if quote_sized else _s(order.qty),
        "remaining_volume": None if quote_sized else _s(order.remaining),
        "reserved_fee": _s(money["reserved_fee"]),
        "remaining_fee": _s(money["remaining_fee"]),
        "paid_fee": _s(order.fee),
        "locked": _s(money["locked"]),
        "executed_volume": _s(order.filled_qty),
        "executed_funds": _s(order.filled_quote),
        "trades_count": order.trades_count,
        "prevented_volume": _s(order.prevented_qty),
        "prevented_locked": _s(money["prevented_locked"]),
    }
    if order.client_order_id is not None:
        obj["identifier"] = order.client_order_id
    if time_in_force(order) is not None:
        obj["time_in_force"] = time_in_force(order)
    if order.stp is not StpMode.NONE:
        obj["smp_type"] = SMP_TYPES.get(order.stp)
    if with_trades:
        obj["trades"] = [
            {
                "market": order.venue_symbol,
                "uuid": fill.trade_id,
                "price": _s(fill.price),
                "volume": _s(fill.qty),
                "funds": _s(fill.quote_amount),
                "trend": "up" if fill.side is Side.BUY else "down",
                "created_at": created_at(fill.time),
                "side": "bid" if fill.side is Side.BUY else "ask",
            }
            for fill in order.fills
        ]
    return obj
