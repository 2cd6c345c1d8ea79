"""What each venue can do when cancelling, in one table (FACTS.md §1.4-1.6, §2.3-2.4,
§3.2-3.3, §4.2, §5; seeds 000, 001, 002, 004).

- upbit: one order `DELETE /v1/order`; scope `DELETE /v1/orders/open` (WAIT only, per
  account, 1 per 2 s, at most 300 orders a request: the rest order by order); partial: none,
  qty ignored, the whole remainder is canceled (seed 000).
- binance: `order.cancel`; scope `openOrders.cancelAll` (one symbol); partial
  `order.amend.keepPriority` (queue priority kept); 50 orders per 10 s.
- coinone: `/v2.1/order/cancel`; scope order by order (cancel/all's reply is unverified);
  partial: cancel and re-place the reduced remainder at the same price (priority lost); 40/s.
- ssi: `CancelOrder` (ack; CL or an `orderError` on the stream), scopes order by order,
  concurrently; no partial; 20/s.
- futures_gateway: `DELETE /order`; scope `POST cancel_all` (TP/SL too), 10 per 60 s, else
  order by order; no partial.
"""

from __future__ import annotations

from dataclasses import dataclass
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

    def venue_symbol(self, symbol: str) -> str:
        """The venue's spelling of `symbol` (unified `BASE/QUOTE[:SETTLE]` or already venue)."""
        if "/" not in symbol:
            return symbol.strip().upper()
        pair, _, _settle = symbol.strip().upper().partition(":")
        base, _, quote = pair.partition("/")
        if self.venue == "upbit":
            return f"{quote}-{base}"
        if self.venue == "coinone":
            return f"{base}-{quote}"
        if self.venue == "ssi":
            return base
        return f"{base}{quote}"  # binance, futures_gateway


CAPABILITIES: dict[str, VenueCapabilities] = {
    "upbit": VenueCapabilities(
        "upbit",
        Partial.IGNORE,
        ScopeCancel.ACCOUNT,
        Window(30, 1000),
        scope_limit=Window(1, 2000),
        scope_min_orders=3,
        scope_includes_untriggered=False,
        scope_batch=300,
    ),
    "binance": VenueCapabilities(
        "binance",
        Partial.AMEND,
        ScopeCancel.SYMBOL,
        Window(50, 10_000),
        scope_min_orders=2,
    ),
    "coinone": VenueCapabilities("coinone", Partial.REPLACE, ScopeCancel.NONE, Window(40, 1000)),
    "ssi": VenueCapabilities(
        "ssi", Partial.UNSUPPORTED, ScopeCancel.NONE, Window(20, 1000), concurrency=8
    ),
    "futures_gateway": VenueCapabilities(
        "futures_gateway",
        Partial.UNSUPPORTED,
        ScopeCancel.ACCOUNT,
        Window(1200, 60_000),
        scope_limit=Window(10, 60_000),
    ),
}
