"""Fills derived from cumulative quantities, for channels that carry no trade-level fills.

Some channels (REST polls of Coinone or SSI, an Upbit order snapshot) only restate an order's
cumulative `filled_qty` / `avg_fill_price` / `fee`. Their normalizers set
`OrderEvent.fills_implied`, and every increase of the cumulative filled quantity between two
such reports becomes one derived `Fill`, so that positions still see every execution:

- qty   = the increase of `filled_qty` since the previous derived fill ("level");
- price = (avg_after * filled_after - notional_before) / qty, i.e. the price of the increment
          implied by the change of the average; the average itself when the notional before is
          unknown or the result is not positive; else the order's limit price; with none of
          them the increase cannot be valued and is carried into the next priced report;
- fee   = the increase of the cumulative fee (0 when the fee was never stated);
- trade_id = f"{order_id}:{cumulative filled after}" (plain decimal), deterministic, so the
          same increase reported twice is the same fill, and a revision (a late report
          inserting an intermediate level) reuses the id with a new quantity.

Only `fills_implied` reports with a `filled_qty` move the level, so a derived fill depends on
nothing but those reports (in sort order). The ledger drops all derived fills of an order as
soon as it holds one real fill for it (see ledger.py): the two sources are never mixed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from pipeline.domain.events import Fill, Liquidity, OrderEvent


class ImpliedBase(NamedTuple):
    """Where the next derived fill starts: cumulative level, notional and fee at that level."""

    level: Decimal
    notional: Decimal | None
    fee: Decimal | None
    price: Decimal | None  # the order price last stated on an implied report


def plain(value: Decimal) -> str:
    """A decimal as plain digits without exponent or trailing zeros (`10.50` -> `10.5`)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def derive_fill(base: ImpliedBase, event: OrderEvent) -> tuple[Fill | None, ImpliedBase]:
    """The fill implied by `event` (whose `filled_qty` exceeds `base.level`) and the new base."""
    level = event.filled_qty
    assert level is not None  # the caller checked
    limit = event.price if event.price is not None else base.price
    qty = level - base.level
    avg = event.avg_fill_price
    price: Decimal | None = None
    if avg is not None:
        price = avg
        if base.notional is not None:
            increment = (avg * level - base.notional) / qty
            if increment > 0:
                price = increment
    elif limit is not None:
        price = limit
    if price is None:
        return None, ImpliedBase(base.level, base.notional, base.fee, limit)

    fee = event.fee
    fill = Fill(
        event.venue,
        event.account,
        event.symbol,
        event.venue_symbol,
        event.order_id,
        f"{event.order_id}:{plain(level)}",
        event.side,
        price,
        qty,
        fee - base.fee if fee is not None and base.fee is not None else Decimal(0),
        event.fee_asset,
        Liquidity.UNKNOWN,
        event.event_time,
        event.received_at,
    )
    notional = avg * level if avg is not None else None
    return fill, ImpliedBase(level, notional, fee, limit)
