"""Venue adapters: one package module per venue, each with a pure normalizer.

`normalizer_for(venue)` returns the venue's normalizer, importing it on first use so that a
process pays only for the venues it handles.
"""

from __future__ import annotations

import importlib

from pipeline.envelope import VENUES
from pipeline.errors import UnknownVenueError
from pipeline.venues.base import Normalizer

_NORMALIZERS: dict[str, str] = {
    "upbit": "pipeline.venues.upbit:UpbitNormalizer",
    "binance": "pipeline.venues.binance:BinanceNormalizer",
    "coinone": "pipeline.venues.coinone:CoinoneNormalizer",
    "ssi": "pipeline.venues.ssi:SsiNormalizer",
    "futures_gateway": "pipeline.venues.futures_gateway:FuturesGatewayNormalizer",
}
_cache: dict[str, Normalizer] = {}


def normalizer_for(venue: str) -> Normalizer:
    """The normalizer of `venue`; `UnknownVenueError` for a venue id we do not serve."""
    found = _cache.get(venue)
    if found is not None:
        return found
    target = _NORMALIZERS.get(venue)
    if target is None:
        raise UnknownVenueError(f"unknown venue {venue!r}; known venues: {', '.join(VENUES)}")
    module_name, class_name = target.split(":")
    normalizer: Normalizer = getattr(importlib.import_module(module_name), class_name)()
    _cache[venue] = normalizer
    return normalizer


__all__ = ["VENUES", "Normalizer", "normalizer_for"]
