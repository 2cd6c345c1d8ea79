"""SSI's cancels (FACTS.md §4.2): `CancelOrder` (an acknowledgement; the cancel or an
`orderError` follows on the stream), scopes order by order, concurrently; no partial;
20 requests/s. An instrument is its stock code alone (`SSI`, `VN30F2412`)."""

from __future__ import annotations

from pipeline.venues.capabilities import Partial, ScopeCancel, VenueCapabilities, Window


def venue_symbol(base: str, quote: str) -> str:
    return base


CAPABILITIES = VenueCapabilities(
    "ssi", Partial.UNSUPPORTED, ScopeCancel.NONE, Window(20, 1000), concurrency=8,
    spell=venue_symbol,
)  # fmt: skip
