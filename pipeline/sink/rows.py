"""Table rows from the pipeline's wire dicts: one place that knows each table's columns.

The sink consumes the output topics (codec dicts, decimals as strings, times as epoch ms) and
replay produces the same dicts in memory, so both write through these converters. Decimals
become `Decimal`, epoch milliseconds stay integers (DateTime64(3) takes them as is).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pipeline.errors import BadInputError


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


ORDER_COLUMNS: tuple[str, ...] = (
    "venue", "account", "order_id", "client_order_id", "symbol", "venue_symbol", "side",
    "order_type", "status", "venue_status", "cancel_reason", "time_in_force", "qty", "price",
    "stop_price", "quote_qty", "filled_qty", "remaining_qty", "canceled_qty", "avg_fill_price",
    "avg_fill_price_source", "fee", "fee_asset", "created_at", "updated_at", "version",
    "last_event_id",
)  # fmt: skip
_ORDER_DECIMALS = frozenset(
    {"qty", "price", "stop_price", "quote_qty", "filled_qty", "remaining_qty",
     "canceled_qty", "avg_fill_price", "fee"}
)  # fmt: skip

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "venue", "account", "order_id", "client_order_id", "symbol", "venue_symbol",
    "side", "order_type", "status", "venue_status", "cancel_reason", "qty", "price",
    "filled_qty", "canceled_qty", "avg_fill_price", "fee", "fee_asset", "trade_id",
    "fill_price", "fill_qty", "sequence", "is_snapshot", "late", "event_time", "received_at",
    "version",
)  # fmt: skip
_EVENT_DECIMALS = frozenset({"qty", "price", "filled_qty", "canceled_qty", "avg_fill_price", "fee"})

FILL_COLUMNS: tuple[str, ...] = (
    "venue", "account", "symbol", "venue_symbol", "trade_id", "order_id", "side", "price",
    "qty", "fee", "fee_asset", "liquidity", "trade_time", "received_at", "version",
)  # fmt: skip
_FILL_DECIMALS = frozenset({"price", "qty", "fee"})

POSITION_COLUMNS: tuple[str, ...] = (
    "venue", "account", "symbol", "qty", "avg_price", "realized_pnl", "fees", "fill_count",
    "updated_at", "version",
)  # fmt: skip

DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "source_topic", "source_partition", "source_offset", "venue", "reason", "detail",
    "raw_key", "raw_value", "failed_at",
)  # fmt: skip


def _row(obj: dict[str, Any], columns: tuple[str, ...], decimals: frozenset[str]) -> list[Any]:
    try:
        return [_dec(obj[c]) if c in decimals else obj[c] for c in columns]
    except KeyError as exc:
        raise BadInputError(f"record lacks column {exc.args[0]!r}") from exc


def order_row(obj: dict[str, Any]) -> list[Any]:
    if "avg_fill_price_source" not in obj:  # a record written before the field existed
        obj = {**obj, "avg_fill_price_source": None}
    return _row(obj, ORDER_COLUMNS, _ORDER_DECIMALS)


def event_row(obj: dict[str, Any]) -> list[Any]:
    fill = obj.get("fill") or {}
    flat = {
        **obj,
        "trade_id": fill.get("trade_id"),
        "fill_price": fill.get("price"),
        "fill_qty": fill.get("qty"),
        "is_snapshot": 1 if obj.get("is_snapshot") else 0,
        "late": 1 if obj.get("late") else 0,
        "version": obj.get("version", 0),
    }
    row = _row(flat, EVENT_COLUMNS, _EVENT_DECIMALS)
    index = EVENT_COLUMNS.index("fill_price")
    row[index] = _dec(row[index])
    row[index + 1] = _dec(row[index + 1])
    return row


def fill_row(obj: dict[str, Any]) -> list[Any]:
    return _row({**obj, "version": obj.get("version", 1)}, FILL_COLUMNS, _FILL_DECIMALS)


def position_row(obj: dict[str, Any]) -> list[Any]:
    row = _row(obj, POSITION_COLUMNS, frozenset({"qty", "avg_price", "realized_pnl"}))
    row[POSITION_COLUMNS.index("fees")] = {k: Decimal(v) for k, v in obj["fees"].items()}
    return row


def dead_letter_row(obj: dict[str, Any]) -> list[Any]:
    return _row(obj, DEAD_LETTER_COLUMNS, frozenset())


TableSpec = tuple[str, tuple[str, ...], Callable[[dict[str, Any]], list[Any]]]

TABLES: dict[str, TableSpec] = {
    "orders": ("orders", ORDER_COLUMNS, order_row),
    "order_events": ("order_events", EVENT_COLUMNS, event_row),
    "fills": ("fills", FILL_COLUMNS, fill_row),
    "positions": ("positions", POSITION_COLUMNS, position_row),
    "dead_letters": ("dead_letters", DEAD_LETTER_COLUMNS, dead_letter_row),
}
