"""The names the stream processor and the normalizers rely on."""

from __future__ import annotations

import inspect

import pipeline.domain


def test_domain_public_names_pinned():
    assert set(pipeline.domain.__all__) == {
        "AvgPriceSource",
        "BookOutput",
        "CancelReason",
        "DomainError",
        "Fill",
        "ForeignEventError",
        "InvalidQuantityError",
        "Liquidity",
        "OrderEvent",
        "OrderLedger",
        "OrderState",
        "OrderStatus",
        "OrderUpdate",
        "Position",
        "PositionLedger",
        "Side",
        "TradingBook",
        "order_sort_key",
    }


def test_domain_entry_points_signatures():
    book = pipeline.domain.TradingBook
    assert list(inspect.signature(book.apply).parameters) == ["self", "event"]
    assert list(inspect.signature(book.evict).parameters) == ["self", "now_ms", "retention_ms"]
    ledger = pipeline.domain.OrderLedger
    assert list(inspect.signature(ledger.apply).parameters) == ["self", "event"]


def test_order_event_fills_implied_is_last_defaulted_field():
    fields = list(pipeline.domain.OrderEvent.__dataclass_fields__)
    assert fields[-1] == "fills_implied"
    assert pipeline.domain.OrderEvent.__dataclass_fields__["fills_implied"].default is False


def test_order_state_avg_fill_price_source_is_last_defaulted_field():
    """Added after the wire format was public: last, defaulted, so positional callers and
    records written before it keep working."""
    fields = list(pipeline.domain.OrderState.__dataclass_fields__)
    assert fields[-1] == "avg_fill_price_source"
    from decimal import Decimal

    from pipeline.domain import OrderState, OrderStatus, Side

    zero = Decimal(0)
    state = OrderState(
        "v", "a", "o", "X/Y", "XY", Side.BUY, "limit", OrderStatus.OPEN, "o", None, zero,
        None, None, None, zero, zero, zero, None, zero, None, None, None, 1, 1, 1, "e",
    )  # fmt: skip
    assert state.avg_fill_price_source is None
