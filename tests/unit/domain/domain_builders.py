"""Builders of canonical events and fills for the domain tests (fixed clock, no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.domain.events import Fill, Liquidity, OrderEvent, OrderStatus, Side

T0 = 1_700_000_000_000  # a fixed clock: epoch ms


def D(value: str | int) -> Decimal:
    return Decimal(value)


def fill(
    trade_id: str,
    qty: str | Decimal,
    price: str | Decimal,
    *,
    side: Side = Side.BUY,
    at: int = T0,
    fee: str | Decimal = "0",
    order_id: str = "o1",
    symbol: str = "BTC/KRW",
    venue: str = "upbit",
    account: str = "acc",
) -> Fill:
    return Fill(
        venue=venue,
        account=account,
        symbol=symbol,
        venue_symbol="KRW-BTC",
        order_id=order_id,
        trade_id=trade_id,
        side=side,
        price=Decimal(price),
        qty=Decimal(qty),
        fee=Decimal(fee),
        fee_asset="KRW",
        liquidity=Liquidity.TAKER,
        trade_time=at,
        received_at=at + 5,
    )


def event(
    event_id: str,
    status: OrderStatus | str,
    *,
    at: int = T0,
    order_id: str = "o1",
    side: Side = Side.BUY,
    symbol: str = "BTC/KRW",
    venue: str = "upbit",
    account: str = "acc",
    **fields: Any,
) -> OrderEvent:
    """An event of order `order_id`; decimal fields may be given as strings."""
    for name in ("qty", "price", "filled_qty", "avg_fill_price", "canceled_qty", "fee"):
        if isinstance(fields.get(name), str | int):
            fields[name] = Decimal(fields[name])
    for name in ("quote_qty", "stop_price"):
        if isinstance(fields.get(name), str | int):
            fields[name] = Decimal(fields[name])
    status = OrderStatus(status)
    return OrderEvent(
        event_id=event_id,
        venue=venue,
        account=account,
        order_id=order_id,
        symbol=symbol,
        venue_symbol="KRW-BTC",
        side=side,
        order_type=fields.pop("order_type", "limit"),
        status=status,
        venue_status=fields.pop("venue_status", status.value),
        event_time=at,
        received_at=at + 5,
        **fields,
    )
