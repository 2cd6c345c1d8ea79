"""Coinone's cancels (FACTS.md §3.2-3.3, seed 001): `/v2.1/order/cancel`; scopes order by
order (cancel/all's reply is unverified); partial: cancel and re-place the reduced remainder
at the same price (priority lost); 40 requests/s. Symbols are spelled `BASE-QUOTE`."""

from __future__ import annotations

from pipeline.venues.capabilities import Partial, ScopeCancel, VenueCapabilities, Window


def venue_symbol(base: str, quote: str) -> str:
    return f"{base}-{quote}"


CAPABILITIES = VenueCapabilities(
    "coinone", Partial.REPLACE, ScopeCancel.NONE, Window(40, 1000), spell=venue_symbol
)
