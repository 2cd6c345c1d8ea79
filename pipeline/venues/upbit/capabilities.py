"""Upbit's cancels (FACTS.md §2.3-2.4, seed 000): one order `DELETE /v1/order`; scope
`DELETE /v1/orders/open` (WAIT orders only, per account, 1 request per 2 s, at most 300
orders a request: the rest order by order); no partial cancel: a quantity is ignored and the
whole remainder is canceled. Symbols are spelled `QUOTE-BASE` (`KRW-BTC`)."""

from __future__ import annotations

from pipeline.venues.capabilities import Partial, ScopeCancel, VenueCapabilities, Window


def venue_symbol(base: str, quote: str) -> str:
    return f"{quote}-{base}"


CAPABILITIES = VenueCapabilities(
    "upbit",
    Partial.IGNORE,
    ScopeCancel.ACCOUNT,
    Window(30, 1000),
    scope_limit=Window(1, 2000),
    scope_min_orders=3,
    scope_includes_untriggered=False,
    scope_batch=300,
    spell=venue_symbol,
)
