"""Binance's cancels (FACTS.md §1.4-1.6, seed 004): `order.cancel`; scope
`openOrders.cancelAll` (one symbol); partial `order.amend.keepPriority` (queue priority
kept); 50 orders per 10 s. Symbols are spelled `BASEQUOTE` (`BTCUSDT`)."""

from __future__ import annotations

from pipeline.venues.capabilities import Partial, ScopeCancel, VenueCapabilities, Window


def venue_symbol(base: str, quote: str) -> str:
    return f"{base}{quote}"


CAPABILITIES = VenueCapabilities(
    "binance",
    Partial.AMEND,
    ScopeCancel.SYMBOL,
    Window(50, 10_000),
    scope_min_orders=2,
    spell=venue_symbol,
)
