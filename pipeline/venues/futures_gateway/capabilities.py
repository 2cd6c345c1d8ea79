"""The futures gateway's cancels (seed 002): `DELETE /order`; scope `POST cancel_all` (TP/SL
too), 10 per 60 s, else order by order; no partial. Symbols are spelled `BASEQUOTE`."""

from __future__ import annotations

from pipeline.venues.capabilities import Partial, ScopeCancel, VenueCapabilities, Window


def venue_symbol(base: str, quote: str) -> str:
    return f"{base}{quote}"


CAPABILITIES = VenueCapabilities(
    "futures_gateway",
    Partial.UNSUPPORTED,
    ScopeCancel.ACCOUNT,
    Window(1200, 60_000),
    scope_limit=Window(10, 60_000),
    spell=venue_symbol,
)
