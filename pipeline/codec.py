"""JSON codecs of the canonical model: the wire format of the pipeline's own topics.

`orders.events` carries `OrderEvent`, `fills` carries `Fill`, `orders.state` carries
`OrderState` and `positions.state` carries `Position`. Each dict uses exactly the dataclass
field names (the JSON Schemas in schemas/json/ validate them); decimals travel as plain
decimal strings (`"0.00000001"`, never floats or exponents, so no precision is lost), enums as
their values, times as epoch-millisecond integers, and absent values as `null`.

`*_from_dict` accepts what `*_to_dict` produces (round-trip exact) and raises `BadInputError`
naming the field when a value is missing or has the wrong type, so a bad record on an input
topic becomes a dead letter rather than a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson

from pipeline.domain.events import AvgPriceSource, Fill, Liquidity, OrderEvent, OrderStatus, Side
from pipeline.domain.orders import OrderState
from pipeline.domain.positions import Position
from pipeline.errors import BadInputError

T = TypeVar("T")


def dec(value: Decimal) -> str:
    """A decimal as a plain string (no exponent), exact: `format(value, "f")`.

    Fast path: `str` spells the very same digits whenever it uses no exponent (it switches
    to one only for a positive exponent or more than six leading zeros) and costs a third of
    `format`; every field of every output message passes here.
    """
    text = str(value)
    if "E" in text or "e" in text:  # "e" under a context with capitals=0
        return format(value, "f")
    return text


def opt_dec(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = str(value)  # as in `dec`, without a second call
    if "E" in text or "e" in text:
        return format(value, "f")
    return text


# Enum member -> its value (a plain str), looked up: `member.value` is a Python-level
# property, ~7x slower than a dict hit, and each output message reads two or three.
_SIDE_VALUE: dict[Side, str] = {member: member.value for member in Side}
_STATUS_VALUE: dict[OrderStatus, str] = {member: member.value for member in OrderStatus}
_LIQUIDITY_VALUE: dict[Liquidity, str] = {member: member.value for member in Liquidity}


def _object(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BadInputError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _flag(obj: dict[str, Any], name: str) -> bool:
    return False if obj.get(name) is None else _typed(obj, name, bool)


def _get(obj: dict[str, Any], name: str) -> Any:
    try:
        return obj[name]
    except KeyError:
        raise BadInputError(f"field {name!r} is missing") from None


def _decimal(obj: dict[str, Any], name: str) -> Decimal:
    value = _get(obj, name)
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            result = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if result.is_finite():
                return result
    raise BadInputError(f"field {name!r} = {value!r}: expected a decimal string")


def _opt_decimal(obj: dict[str, Any], name: str) -> Decimal | None:
    return None if obj.get(name) is None else _decimal(obj, name)


def _typed(obj: dict[str, Any], name: str, kind: type[T]) -> T:
    value = _get(obj, name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadInputError(f"field {name!r} = {value!r}: expected {kind.__name__}")
    return value


def _opt_str(obj: dict[str, Any], name: str) -> str | None:
    return None if obj.get(name) is None else _typed(obj, name, str)


def _enum(obj: dict[str, Any], name: str, kind: Callable[[str], T]) -> T:
    value = _get(obj, name)
    try:
        return kind(value)
    except ValueError:
        raise BadInputError(f"field {name!r} = {value!r}: not a known value") from None


def fill_to_dict(fill: Fill) -> dict[str, Any]:
    return {
        "venue": fill.venue,
        "account": fill.account,
        "symbol": fill.symbol,
        "venue_symbol": fill.venue_symbol,
        "order_id": fill.order_id,
        "trade_id": fill.trade_id,
        "side": _SIDE_VALUE[fill.side],
        "price": dec(fill.price),
        "qty": dec(fill.qty),
        "fee": dec(fill.fee),
        "fee_asset": fill.fee_asset,
        "liquidity": _LIQUIDITY_VALUE[fill.liquidity],
        "trade_time": fill.trade_time,
        "received_at": fill.received_at,
    }


def fill_from_dict(obj: dict[str, Any]) -> Fill:
    obj = _object(obj)
    return Fill(
        venue=_typed(obj, "venue", str),
        account=_typed(obj, "account", str),
        symbol=_typed(obj, "symbol", str),
        venue_symbol=_typed(obj, "venue_symbol", str),
        order_id=_typed(obj, "order_id", str),
        trade_id=_typed(obj, "trade_id", str),
        side=_enum(obj, "side", Side),
        price=_decimal(obj, "price"),
        qty=_decimal(obj, "qty"),
        fee=_decimal(obj, "fee"),
        fee_asset=_opt_str(obj, "fee_asset"),
        liquidity=_enum(obj, "liquidity", Liquidity),
        trade_time=_typed(obj, "trade_time", int),
        received_at=_typed(obj, "received_at", int),
    )


def event_to_dict(event: OrderEvent) -> dict[str, Any]:
    fill = event.fill
    return {
        "event_id": event.event_id,
        "venue": event.venue,
        "account": event.account,
        "order_id": event.order_id,
        "symbol": event.symbol,
        "venue_symbol": event.venue_symbol,
        "side": _SIDE_VALUE[event.side],
        "order_type": event.order_type,
        "status": _STATUS_VALUE[event.status],
        "venue_status": event.venue_status,
        "event_time": event.event_time,
        "received_at": event.received_at,
        "qty": opt_dec(event.qty),
        "price": opt_dec(event.price),
        "filled_qty": opt_dec(event.filled_qty),
        "avg_fill_price": opt_dec(event.avg_fill_price),
        "canceled_qty": opt_dec(event.canceled_qty),
        "fee": opt_dec(event.fee),
        "fee_asset": event.fee_asset,
        "quote_qty": opt_dec(event.quote_qty),
        "stop_price": opt_dec(event.stop_price),
        "client_order_id": event.client_order_id,
        "time_in_force": event.time_in_force,
        "cancel_reason": event.cancel_reason,
        "fill": None if fill is None else fill_to_dict(fill),
        "sequence": event.sequence,
        "is_snapshot": event.is_snapshot,
        "fills_implied": event.fills_implied,
    }


def event_from_dict(obj: dict[str, Any]) -> OrderEvent:
    obj = _object(obj)
    fill = obj.get("fill")
    sequence = obj.get("sequence")
    return OrderEvent(
        event_id=_typed(obj, "event_id", str),
        venue=_typed(obj, "venue", str),
        account=_typed(obj, "account", str),
        order_id=_typed(obj, "order_id", str),
        symbol=_typed(obj, "symbol", str),
        venue_symbol=_typed(obj, "venue_symbol", str),
        side=_enum(obj, "side", Side),
        order_type=_typed(obj, "order_type", str),
        status=_enum(obj, "status", OrderStatus),
        venue_status=_typed(obj, "venue_status", str),
        event_time=_typed(obj, "event_time", int),
        received_at=_typed(obj, "received_at", int),
        qty=_opt_decimal(obj, "qty"),
        price=_opt_decimal(obj, "price"),
        filled_qty=_opt_decimal(obj, "filled_qty"),
        avg_fill_price=_opt_decimal(obj, "avg_fill_price"),
        canceled_qty=_opt_decimal(obj, "canceled_qty"),
        fee=_opt_decimal(obj, "fee"),
        fee_asset=_opt_str(obj, "fee_asset"),
        quote_qty=_opt_decimal(obj, "quote_qty"),
        stop_price=_opt_decimal(obj, "stop_price"),
        client_order_id=_opt_str(obj, "client_order_id"),
        time_in_force=_opt_str(obj, "time_in_force"),
        cancel_reason=_opt_str(obj, "cancel_reason"),
        fill=None if fill is None else fill_from_dict(fill),
        sequence=None if sequence is None else _typed(obj, "sequence", int),
        is_snapshot=_flag(obj, "is_snapshot"),
        fills_implied=_flag(obj, "fills_implied"),
    )


def order_state_to_dict(state: OrderState) -> dict[str, Any]:
    return {
        "venue": state.venue,
        "account": state.account,
        "order_id": state.order_id,
        "symbol": state.symbol,
        "venue_symbol": state.venue_symbol,
        "side": _SIDE_VALUE[state.side],
        "order_type": state.order_type,
        "status": _STATUS_VALUE[state.status],
        "venue_status": state.venue_status,
        "cancel_reason": state.cancel_reason,
        "qty": dec(state.qty),
        "price": opt_dec(state.price),
        "stop_price": opt_dec(state.stop_price),
        "quote_qty": opt_dec(state.quote_qty),
        "filled_qty": dec(state.filled_qty),
        "remaining_qty": dec(state.remaining_qty),
        "canceled_qty": dec(state.canceled_qty),
        "avg_fill_price": opt_dec(state.avg_fill_price),
        "fee": dec(state.fee),
        "fee_asset": state.fee_asset,
        "client_order_id": state.client_order_id,
        "time_in_force": state.time_in_force,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "version": state.version,
        "last_event_id": state.last_event_id,
        "avg_fill_price_source": state.avg_fill_price_source,
    }


def order_state_from_dict(obj: dict[str, Any]) -> OrderState:
    obj = _object(obj)
    return OrderState(
        venue=_typed(obj, "venue", str),
        account=_typed(obj, "account", str),
        order_id=_typed(obj, "order_id", str),
        symbol=_typed(obj, "symbol", str),
        venue_symbol=_typed(obj, "venue_symbol", str),
        side=_enum(obj, "side", Side),
        order_type=_typed(obj, "order_type", str),
        status=_enum(obj, "status", OrderStatus),
        venue_status=_typed(obj, "venue_status", str),
        cancel_reason=_opt_str(obj, "cancel_reason"),
        qty=_decimal(obj, "qty"),
        price=_opt_decimal(obj, "price"),
        stop_price=_opt_decimal(obj, "stop_price"),
        quote_qty=_opt_decimal(obj, "quote_qty"),
        filled_qty=_decimal(obj, "filled_qty"),
        remaining_qty=_decimal(obj, "remaining_qty"),
        canceled_qty=_decimal(obj, "canceled_qty"),
        avg_fill_price=_opt_decimal(obj, "avg_fill_price"),
        fee=_decimal(obj, "fee"),
        fee_asset=_opt_str(obj, "fee_asset"),
        client_order_id=_opt_str(obj, "client_order_id"),
        time_in_force=_opt_str(obj, "time_in_force"),
        created_at=_typed(obj, "created_at", int),
        updated_at=_typed(obj, "updated_at", int),
        version=_typed(obj, "version", int),
        last_event_id=_typed(obj, "last_event_id", str),
        avg_fill_price_source=_avg_source(obj),
    )


_AVG_SOURCES = frozenset(source.value for source in AvgPriceSource)


def _avg_source(obj: dict[str, Any]) -> str | None:
    """`avg_fill_price_source`; absent in records written before it existed (None)."""
    source = _opt_str(obj, "avg_fill_price_source")
    if source is not None and source not in _AVG_SOURCES:
        raise BadInputError(
            f"field 'avg_fill_price_source' must be one of {sorted(_AVG_SOURCES)}, got {source!r}"
        )
    return source


def position_to_dict(position: Position) -> dict[str, Any]:
    return {
        "venue": position.venue,
        "account": position.account,
        "symbol": position.symbol,
        "qty": dec(position.qty),
        "avg_price": dec(position.avg_price),
        "realized_pnl": dec(position.realized_pnl),
        "fees": {asset: dec(amount) for asset, amount in sorted(position.fees.items())},
        "fill_count": position.fill_count,
        "updated_at": position.updated_at,
        "version": position.version,
    }


def position_from_dict(obj: dict[str, Any]) -> Position:
    obj = _object(obj)
    fees = _typed(obj, "fees", dict)
    return Position(
        venue=_typed(obj, "venue", str),
        account=_typed(obj, "account", str),
        symbol=_typed(obj, "symbol", str),
        qty=_decimal(obj, "qty"),
        avg_price=_decimal(obj, "avg_price"),
        realized_pnl=_decimal(obj, "realized_pnl"),
        fees={str(asset): _decimal(fees, asset) for asset in fees},
        fill_count=_typed(obj, "fill_count", int),
        updated_at=_typed(obj, "updated_at", int),
        version=_typed(obj, "version", int),
    )


def dumps(obj: dict[str, Any]) -> bytes:
    """orjson bytes of a codec dict (compact, no trailing newline)."""
    return orjson.dumps(obj)


def loads(raw: bytes | str) -> Any:
    """Parse one JSON document; `BadInputError` when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInputError(f"not valid JSON: {exc}") from exc
