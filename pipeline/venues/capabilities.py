"""What a venue can do when cancelling: the shape of each venue's `capabilities` module
(`pipeline.venues.<venue>.capabilities.CAPABILITIES`), read by the cancel planner.

Each venue states its own: which partial cancel it has, whether one request cancels a
scope, how its rate limits count, and how it spells a unified `BASE/QUOTE` symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Partial(StrEnum):
    IGNORE = "ignore"  # qty ignored: the whole remainder is canceled (Upbit)
    AMEND = "amend"  # reduce keeping queue priority (Binance)
    REPLACE = "replace"  # cancel, then place the reduced remainder (Coinone v2.1)
    UNSUPPORTED = "unsupported"


class ScopeCancel(StrEnum):
    NONE = "none"  # one request per order
    ACCOUNT = "account"  # one request per account, optionally one symbol (gateway, Upbit)
    SYMBOL = "symbol"  # one request per account and symbol (Binance)


@dataclass(frozen=True, slots=True)
class Window:
    """At most `count` requests per `window_ms` (how the venue counts)."""

    count: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class VenueCapabilities:
    venue: str
    partial: Partial
    scope_cancel: ScopeCancel
    order_limit: Window  # per-order cancels (and amends/replacements)
    scope_limit: Window | None = None  # the scope-cancel endpoint's own budget
    scope_min_orders: int = 1  # use the scope endpoint from this many targets per request
    scope_includes_untriggered: bool = True
    scope_batch: int | None = None  # most orders one scope request cancels (upbit `count`)
    concurrency: int = 4
    confirm_timeout_s: float = 20.0

    #: the venue's spelling of a unified (BASE, QUOTE) pair (its own `capabilities` module)
    spell: Callable[[str, str], str] = field(default=lambda base, quote: f"{base}{quote}")

    def venue_symbol(self, symbol: str) -> str:
        """The venue's spelling of `symbol` (unified `BASE/QUOTE[:SETTLE]` or already venue)."""
        if "/" not in symbol:
            return symbol.strip().upper()
        pair, _, _settle = symbol.strip().upper().partition(":")
        base, _, quote = pair.partition("/")
        return self.spell(base, quote)
