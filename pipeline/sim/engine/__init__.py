"""The simulator's matching engine: pure, deterministic, venue-neutral.

One `Exchange` per venue holds an `OrderBook` per symbol with price-time priority and
supports limit, market (by base quantity or quote amount), IOC / FOK, post-only and
conditional (stop-loss / take-profit) orders, partial fills, self-trade prevention, cancels
(whole, partial, deferred), reduce-only amends and cancel-all. Every change is an
`EngineEvent` in the exchange's log; venue adapters render those into wire payloads.
`HouseLiquidity` keeps the books quoted so that market flow fills.
"""

from __future__ import annotations

from pipeline.sim.engine.book import OrderBook
from pipeline.sim.engine.errors import EngineRejection, RejectCode
from pipeline.sim.engine.events import EngineEvent, EventKind
from pipeline.sim.engine.exchange import Exchange
from pipeline.sim.engine.house import HouseLiquidity, HouseQuoting
from pipeline.sim.engine.model import (
    EndReason,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderRequest,
    OrderType,
    Side,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
)
from pipeline.sim.engine.rules import (
    ClientIdReuse,
    IdScheme,
    IdStyle,
    PostOnlyPolicy,
    VenueRules,
)

__all__ = [
    "ClientIdReuse",
    "EndReason",
    "EngineEvent",
    "EngineRejection",
    "EventKind",
    "Exchange",
    "Fill",
    "HouseLiquidity",
    "HouseQuoting",
    "IdScheme",
    "IdStyle",
    "Instrument",
    "Liquidity",
    "Order",
    "OrderBook",
    "OrderRequest",
    "OrderType",
    "PostOnlyPolicy",
    "RejectCode",
    "Side",
    "Status",
    "StpMode",
    "TimeInForce",
    "TriggerKind",
    "VenueRules",
]
