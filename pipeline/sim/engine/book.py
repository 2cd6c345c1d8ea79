"""One symbol's limit order book: price levels, each a FIFO queue (price-time priority).

Prices are kept in one ascending list per side (bisect), levels in dicts; the best bid is
the last bid price, the best ask the first ask price. Removing a canceled order from the
middle of a level is O(level size), which is cheap at simulator depths.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

from pipeline.sim.engine.model import ZERO, Order, Side


class OrderBook:
    """Resting orders of one instrument. Holds only working (non-terminal) orders."""

    __slots__ = ("_asks", "_bids", "_prices", "venue_symbol")

    def __init__(self, venue_symbol: str) -> None:
        self.venue_symbol = venue_symbol
        self._bids: dict[Decimal, deque[Order]] = {}
        self._asks: dict[Decimal, deque[Order]] = {}
        self._prices: dict[Side, list[Decimal]] = {Side.BUY: [], Side.SELL: []}

    def _levels(self, side: Side) -> dict[Decimal, deque[Order]]:
        return self._bids if side is Side.BUY else self._asks

    def add(self, order: Order) -> None:
        """Queue `order` at the tail of its price level."""
        assert order.price is not None
        levels = self._levels(order.side)
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = deque()
            insort(self._prices[order.side], order.price)
        level.append(order)

    def remove(self, order: Order) -> bool:
        """Take `order` off the book; False if it was not resting."""
        if order.price is None:
            return False
        levels = self._levels(order.side)
        level = levels.get(order.price)
        if level is None:
            return False
        for index, resting in enumerate(level):
            if resting is order:
                del level[index]
                break
        else:
            return False
        if not level:
            del levels[order.price]
            prices = self._prices[order.side]
            del prices[bisect_left(prices, order.price)]
        return True

    def best_price(self, side: Side) -> Decimal | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side is Side.BUY else prices[0]

    def best(self, side: Side) -> Order | None:
        """The first order in time at the best price of `side`."""
        price = self.best_price(side)
        return None if price is None else self._levels(side)[price][0]

    def levels(self, side: Side) -> Iterator[tuple[Decimal, deque[Order]]]:
        """Price levels of `side`, best first."""
        prices = self._prices[side]
        ordered = reversed(prices) if side is Side.BUY else iter(prices)
        levels = self._levels(side)
        for price in list(ordered):
            yield price, levels[price]

    def orders(self, side: Side | None = None) -> Iterator[Order]:
        """Resting orders in priority order (bids then asks when `side` is None)."""
        for which in (Side.BUY, Side.SELL) if side is None else (side,):
            for _, level in self.levels(which):
                yield from level

    def acceptable(self, taker_side: Side, limit: Decimal | None, maker_price: Decimal) -> bool:
        """Would a taker on `taker_side` with `limit` (None: market) trade at `maker_price`?"""
        if limit is None:
            return True
        return maker_price <= limit if taker_side is Side.BUY else maker_price >= limit

    def would_cross(self, side: Side, price: Decimal | None) -> bool:
        best = self.best_price(side.opposite)
        return best is not None and self.acceptable(side, price, best)

    def available(
        self, taker_side: Side, limit: Decimal | None, skip_account: str | None
    ) -> Decimal:
        """Quantity a taker could execute right now (for FOK), not counting `skip_account`."""
        total = ZERO
        for price, level in self.levels(taker_side.opposite):
            if not self.acceptable(taker_side, limit, price):
                break
            total += sum((o.remaining for o in level if o.account != skip_account), ZERO)
        return total

    def is_crossed(self) -> bool:
        bid, ask = self.best_price(Side.BUY), self.best_price(Side.SELL)
        return bid is not None and ask is not None and bid >= ask

    def __len__(self) -> int:
        return sum(len(level) for level in self._bids.values()) + sum(
            len(level) for level in self._asks.values()
        )
