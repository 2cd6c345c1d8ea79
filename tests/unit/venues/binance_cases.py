"""Shared cases of the Binance normalizer tests: the fixture family's defaults (`event`,
`snapshot`, `fill`) and the harness over tests/resources/venues/binance/ (SOURCES.md).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from venue_harness import VenueHarness

from pipeline.domain.events import (
    Fill,
    OrderEvent,
    Side,
)
from pipeline.venues.binance import (
    BinanceNormalizer,
)

RESOURCES = Path(__file__).parents[2] / "resources" / "venues" / "binance"
ACCOUNT = "main"
RECEIVED = 1772600000000
D = Decimal
NORMALIZER = BinanceNormalizer()
T0 = 1772500000000  # creation time of the fixture orders


HARNESS = VenueHarness("binance", NORMALIZER, ACCOUNT, RECEIVED)
load, run, one = HARNESS.load, HARNESS.run, HARNESS.one


def event(**kw: Any) -> OrderEvent:
    """Defaults of the ETHUSDC fixture family; each test states what differs."""
    base: dict[str, Any] = {
        "venue": "binance",
        "account": ACCOUNT,
        "symbol": "ETH/USDC",
        "venue_symbol": "ETHUSDC",
        "side": Side.BUY,
        "order_type": "limit",
        "received_at": RECEIVED,
        "price": D("1500.00000000"),
        "time_in_force": "gtc",
    }
    return OrderEvent(**{**base, **kw})


def snapshot(**kw: Any) -> OrderEvent:
    """Defaults of the seed 004 BTCUSDT responses."""
    base: dict[str, Any] = {
        "venue": "binance",
        "account": ACCOUNT,
        "order_id": "12569099453",
        "symbol": "BTC/USDT",
        "venue_symbol": "BTCUSDT",
        "side": Side.SELL,
        "order_type": "limit",
        "received_at": RECEIVED,
        "time_in_force": "gtc",
        "is_snapshot": True,
    }
    return OrderEvent(**{**base, **kw})


def fill(**kw: Any) -> Fill:
    base: dict[str, Any] = {
        "venue": "binance",
        "account": ACCOUNT,
        "symbol": "ETH/USDC",
        "venue_symbol": "ETHUSDC",
        "side": Side.BUY,
        "received_at": RECEIVED,
    }
    return Fill(**{**base, **kw})
