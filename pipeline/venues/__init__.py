"""Venue adapters: one package per venue (`pipeline/venues/<venue>/`), looked up by id in
`pipeline.venues.registry`.

Each package holds the venue's protocol once: `mapping` (statuses, sides, symbols, channel
names), the pure parsers (`normalizer` and the modules it calls), `auth` (sign and verify),
`errors` (transient or business), `client` (the wire calls ingest and cancels share) and
`capabilities` (what its cancels can do). `normalizer_for(venue)` returns the venue's
normalizer, importing it on first use so that a process pays only for the venues it handles.
"""

from __future__ import annotations

from pipeline.venues.registry import VENUES, normalizer_for

__all__ = ["VENUES", "normalizer_for"]
