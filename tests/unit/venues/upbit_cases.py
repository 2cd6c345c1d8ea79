"""Shared cases of the Upbit normalizer tests: the fixture family's defaults (`event`, `fill`),
the seed's ids and the harness over tests/resources/venues/upbit/ (SOURCES.md).
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
from pipeline.venues.upbit import (
    UpbitNormalizer,
)

RESOURCES = Path(__file__).parents[2] / "resources" / "venues" / "upbit"
ACCOUNT = "main"
RECEIVED = 1735800000000
D = Decimal
NORMALIZER = UpbitNormalizer()

SEED_UUID = "ac2dc2a3-fce9-40a2-a4f6-5987c25c438f"
LIMIT_UUID = "9ca023a5-851b-4fec-9f0a-48cd83c2eaae"
PRICE_UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"


HARNESS = VenueHarness("upbit", NORMALIZER, ACCOUNT, RECEIVED)
load, run, one = HARNESS.load, HARNESS.run, HARNESS.one


def fill(**kw: Any) -> Fill:
    base: dict[str, Any] = {
        "venue": "upbit",
        "account": ACCOUNT,
        "symbol": "BTC/KRW",
        "venue_symbol": "KRW-BTC",
        "order_id": LIMIT_UUID,
        "side": Side.BUY,
        "fee_asset": "KRW",
        "received_at": RECEIVED,
    }
    return Fill(**{**base, **kw})


def event(**kw: Any) -> OrderEvent:
    """The limit-order fixture family's defaults; each test states what differs."""
    base: dict[str, Any] = {
        "venue": "upbit",
        "account": ACCOUNT,
        "order_id": LIMIT_UUID,
        "symbol": "BTC/KRW",
        "venue_symbol": "KRW-BTC",
        "side": Side.BUY,
        "order_type": "limit",
        "received_at": RECEIVED,
        "fee_asset": "KRW",
        "client_order_id": "bot-0001",
    }
    return OrderEvent(**{**base, **kw})


def price_event(**kw: Any) -> OrderEvent:
    return event(order_id=PRICE_UUID, order_type="market", client_order_id=None, **kw)
