"""The house: a liquidity provider that keeps a ladder of resting orders around a reference.

Without it, market orders in a sparse simulated book would mostly expire unfilled. The
house is an ordinary account (`house` by default) trading through the same engine, so its
orders, fills and position are part of the ground truth like anyone else's.

Its quotes never cross the book (a bid is placed only below the best ask, an ask only above
the best bid), so the house is always the maker; quotes that drift too far from the
reference are withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pipeline.sim.engine.events import EngineEvent
from pipeline.sim.engine.exchange import Exchange
from pipeline.sim.engine.model import OrderRequest, OrderType, Side


@dataclass(frozen=True, slots=True)
class HouseQuoting:
    """Ladder shape: `levels` prices a side, `spacing_ticks` apart, `size_lots` lots each."""

    account: str = "house"
    levels: int = 5
    spacing_ticks: int = 1
    size_lots: int = 20
    stale_levels: int = 3


class HouseLiquidity:
    """Keeps each symbol of one exchange quoted on both sides around `reference[symbol]`."""

    def __init__(
        self,
        exchange: Exchange,
        reference: Mapping[str, Decimal],
        quoting: HouseQuoting | None = None,
    ) -> None:
        self.exchange = exchange
        self.quoting = quoting or HouseQuoting()
        self.reference: dict[str, Decimal] = dict(reference)

    @property
    def account(self) -> str:
        return self.quoting.account

    def shift(self, venue_symbol: str, ticks: int) -> None:
        """Move the reference price by whole ticks (never to zero or below)."""
        tick = self.exchange.instrument(venue_symbol).tick_size
        moved = self.reference[venue_symbol] + tick * ticks
        self.reference[venue_symbol] = moved if moved > tick * 10 else self.reference[venue_symbol]

    def top_up(self, now: int) -> list[EngineEvent]:
        """Re-quote every symbol: fill ladder gaps, withdraw stale quotes; the events."""
        events: list[EngineEvent] = []
        for venue_symbol in self.reference:
            events.extend(self._withdraw_stale(venue_symbol, now))
            events.extend(self._quote(venue_symbol, now))
        return events

    def _step(self, venue_symbol: str) -> tuple[Decimal, Decimal]:
        instrument = self.exchange.instrument(venue_symbol)
        mid = (self.reference[venue_symbol] // instrument.tick_size) * instrument.tick_size
        return mid, instrument.tick_size * self.quoting.spacing_ticks

    def _withdraw_stale(self, venue_symbol: str, now: int) -> list[EngineEvent]:
        mid, step = self._step(venue_symbol)
        reach = step * (self.quoting.levels + self.quoting.stale_levels)
        events: list[EngineEvent] = []
        for order in self.exchange.open_orders(self.account, venue_symbol):
            if order.price is not None and abs(order.price - mid) > reach:
                events.extend(self.exchange.cancel(order.order_id, now))
        return events

    def _quote(self, venue_symbol: str, now: int) -> list[EngineEvent]:
        exchange = self.exchange
        instrument = exchange.instrument(venue_symbol)
        book = exchange.books[venue_symbol]
        mid, step = self._step(venue_symbol)
        size = instrument.lot_size * self.quoting.size_lots
        resting: dict[tuple[Side, Decimal], Decimal] = {}
        for order in exchange.open_orders(self.account, venue_symbol):
            if order.price is not None:
                key = (order.side, order.price)
                resting[key] = resting.get(key, Decimal(0)) + order.remaining
        events: list[EngineEvent] = []
        for level in range(1, self.quoting.levels + 1):
            for side, price in ((Side.BUY, mid - step * level), (Side.SELL, mid + step * level)):
                if price <= 0 or book.would_cross(side, price):
                    continue
                need = size - resting.get((side, price), Decimal(0))
                if need < instrument.lot_size:
                    continue
                request = OrderRequest(
                    self.account, venue_symbol, side, OrderType.LIMIT, qty=need, price=price
                )
                _, placed = exchange.place(request, now)
                events.extend(placed)
        return events
