"""Pins the field order the Upbit and Binance normalizers rely on.

They build `OrderEvent` and `Fill` positionally (keyword construction of a 27-field dataclass
costs ~1 us per event on the hot path). Appending a defaulted field is safe; reordering or
inserting one must fail here first, not silently shift values in the normalizers.
"""

from __future__ import annotations

from dataclasses import MISSING, fields

from pipeline.domain.events import Fill, OrderEvent

ORDER_EVENT_PREFIX = (
    "event_id",
    "venue",
    "account",
    "order_id",
    "symbol",
    "venue_symbol",
    "side",
    "order_type",
    "status",
    "venue_status",
    "event_time",
    "received_at",
    "qty",
    "price",
    "filled_qty",
    "avg_fill_price",
    "canceled_qty",
    "fee",
    "fee_asset",
    "quote_qty",
    "stop_price",
    "client_order_id",
    "time_in_force",
    "cancel_reason",
    "fill",
    "sequence",
    "is_snapshot",
)
FILL_PREFIX = (
    "venue",
    "account",
    "symbol",
    "venue_symbol",
    "order_id",
    "trade_id",
    "side",
    "price",
    "qty",
    "fee",
    "fee_asset",
    "liquidity",
    "trade_time",
    "received_at",
)


def test_order_event_field_order_matches_positional_construction() -> None:
    names = tuple(f.name for f in fields(OrderEvent))
    assert names[: len(ORDER_EVENT_PREFIX)] == ORDER_EVENT_PREFIX
    appended = fields(OrderEvent)[len(ORDER_EVENT_PREFIX) :]
    assert all(f.default is not MISSING or f.default_factory is not MISSING for f in appended)


def test_fill_field_order_matches_positional_construction() -> None:
    names = tuple(f.name for f in fields(Fill))
    assert names[: len(FILL_PREFIX)] == FILL_PREFIX
