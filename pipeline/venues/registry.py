"""The one list of venues, and each venue's adapter parts looked up by its id.

Every place that needs "all venues" or "the X of this venue" asks here: the envelope and the
metrics (`VENUES`), the processor (`normalizer_for`), ingest (`ingestor_class`), cancels
(`canceller_class`, `capabilities`), the simulator's kits (keyed by these ids). Adding a
venue is one entry below plus its package `pipeline/venues/<venue>/`.

Parts are named by `module:attribute` and imported on first use, so that a process pays only
for what it uses, and so that this module imports nothing but the error tree: the envelope
(compiled hot path) imports `VENUES` from it, and the ingest and command sides resolve their
own parts through it without the venues importing them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import UnknownVenueError

if TYPE_CHECKING:
    from pipeline.venues.base import Normalizer
    from pipeline.venues.capabilities import VenueCapabilities


@dataclass(frozen=True, slots=True)
class VenueAdapter:
    """Where one venue's parts live (`module:attribute`)."""

    venue: str
    normalizer: str  # the pure wire -> canonical parser (a class, instantiated once)
    capabilities: str  # what its cancels can do (`VenueCapabilities`)
    ingestor: str  # the ingest side (an `Ingestor` class)
    canceller: str  # the command side (a `CancelClient` class)
    states_expired: str  # whether its payloads can say "expired" (a `bool`)
    #: a private WebSocket that speaks two spellings: its format names, long keys first,
    #: short keys second (the subscription's `format` value)
    wire_formats: str | None = None


def _adapter(
    venue: str,
    package: str,
    stem: str,
    ingestor: str,
    canceller: str,
    wire_formats: str | None = None,
) -> VenueAdapter:
    return VenueAdapter(
        venue,
        normalizer=f"pipeline.venues.{package}:{stem}Normalizer",
        capabilities=f"pipeline.venues.{package}.capabilities:CAPABILITIES",
        ingestor=f"pipeline.ingest.{package}:{ingestor}",
        canceller=f"pipeline.commands.clients.{package}:{canceller}",
        states_expired=f"pipeline.venues.{package}.mapping:STATES_EXPIRED",
        wire_formats=wire_formats and f"pipeline.venues.{package}.mapping:{wire_formats}",
    )


ADAPTERS: tuple[VenueAdapter, ...] = (
    _adapter("upbit", "upbit", "Upbit", "UpbitIngestor", "UpbitCancelClient", "WS_FORMATS"),
    _adapter("binance", "binance", "Binance", "BinanceIngestor", "BinanceCancelClient"),
    _adapter("coinone", "coinone", "Coinone", "CoinoneIngestor", "CoinoneCancelClient",
             "MYORDER_FORMATS"),
    _adapter("ssi", "ssi", "Ssi", "SsiIngestor", "SsiCancelClient"),
    _adapter(
        "futures_gateway", "futures_gateway", "FuturesGateway", "FuturesGatewayIngestor",
        "GatewayCancelClient",
    ),
)  # fmt: skip

VENUES: tuple[str, ...] = tuple(adapter.venue for adapter in ADAPTERS)
"""Every venue id, in the one order used everywhere (topics, metrics, listings)."""

_BY_ID: dict[str, VenueAdapter] = {adapter.venue: adapter for adapter in ADAPTERS}
_loaded: dict[str, Any] = {}
_normalizers: dict[str, Normalizer] = {}


def adapter(venue: str) -> VenueAdapter:
    """The adapter of `venue`; `UnknownVenueError` for a venue id we do not serve."""
    found = _BY_ID.get(venue)
    if found is None:
        raise UnknownVenueError(f"unknown venue {venue!r}; known venues: {', '.join(VENUES)}")
    return found


def _load(target: str) -> Any:
    found = _loaded.get(target)
    if found is None:
        module_name, attribute = target.split(":")
        found = _loaded[target] = getattr(importlib.import_module(module_name), attribute)
    return found


def normalizer_for(venue: str) -> Normalizer:
    """The normalizer of `venue` (one instance per process)."""
    found = _normalizers.get(venue)
    if found is None:
        found = _normalizers[venue] = _load(adapter(venue).normalizer)()
    return found


def capabilities(venue: str) -> VenueCapabilities:
    """What `venue`'s cancels can do."""
    found: VenueCapabilities = _load(adapter(venue).capabilities)
    return found


def ingestor_class(venue: str) -> Any:
    """`venue`'s `Ingestor` class (typed `Any` here: ingest owns the type)."""
    return _load(adapter(venue).ingestor)


def canceller_class(venue: str) -> Any:
    """`venue`'s `CancelClient` class (typed `Any` here: commands own the type)."""
    return _load(adapter(venue).canceller)


def states_expired(venue: str) -> bool:
    """Whether `venue`'s payloads can say "expired"; where they cannot, a remainder the venue
    released reads as `canceled` (with the same reason)."""
    found: bool = _load(adapter(venue).states_expired)
    return found


def wire_formats(venue: str) -> tuple[str, str] | None:
    """(long-key format, short-key format) of `venue`'s private WebSocket, if it has two."""
    target = adapter(venue).wire_formats
    if target is None:
        return None
    names: tuple[str, ...] = _load(target)
    return names[0], names[1]
