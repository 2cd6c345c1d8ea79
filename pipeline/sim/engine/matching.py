"""The mechanics of matching: sweep the book, trade, prevent self-trades, wake stops, end orders.

`MatchingCore` holds one venue's books and state and knows how an order works against the
book; `Exchange` (exchange.py) adds the public operations (place, cancel, amend, ...) on
top. The split keeps "how matching works" readable apart from "what a client may ask".

Rules implemented here, for every venue alike:
- price-time priority: the best price first, and at one price the earliest order first;
  a trade happens at the resting (maker) order's price;
- self-trade prevention is decided by the taker's mode when the best maker belongs to the
  same account (cancel maker / taker / both, or decrement both by the overlap);
- an order that is not filled right away rests (GTC limit) or has its remainder released
  (market, IOC, FOK) with an EXPIRED event; FOK first checks that it can fill completely;
- a quote-sized market buy spends its amount on whole lots; what cannot buy a lot is dust;
- conditional orders wake when the last trade price reaches their stop price, after the
  operation that moved the price has finished, and then work like a fresh order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from pipeline.sim.engine.book import OrderBook
from pipeline.sim.engine.events import EngineEvent, EventKind
from pipeline.sim.engine.model import (
    EndReason,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderType,
    Side,
    Status,
    StpMode,
    TimeInForce,
    TriggerKind,
)
from pipeline.sim.engine.rules import IdScheme, VenueRules

Listener = Callable[[Sequence[EngineEvent]], None]


class MatchingCore:
    """State and matching mechanics of one venue; no I/O, time passed in."""

    def __init__(
        self, venue: str, instruments: Sequence[Instrument], rules: VenueRules, ids: IdScheme
    ) -> None:
        self.venue = venue
        self.rules = rules
        self.ids = ids
        self.instruments: dict[str, Instrument] = {i.venue_symbol: i for i in instruments}
        self.books: dict[str, OrderBook] = {s: OrderBook(s) for s in self.instruments}
        self.conditionals: dict[str, dict[str, Order]] = {s: {} for s in self.instruments}
        self.last_price: dict[str, Decimal] = {}
        self.orders: dict[str, Order] = {}
        self.live_orders: dict[str, Order] = {}  # not terminal, in order of acceptance
        self.fills: list[Fill] = []
        self.log: list[EngineEvent] = []
        self._batch: list[EngineEvent] = []
        self._listeners: list[Listener] = []
        self._pending_cancels: dict[str, tuple[int, str | None]] = {}
        self._expiring: dict[str, int] = {}
        self._seq = 0
        self._priority = 0
        self._now = 0

    # -- events -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with each operation's events, in order, once it has finished."""
        self._listeners.append(listener)

    def _emit(self, kind: EventKind, order: Order, now: int, **extra: object) -> None:
        self._seq += 1
        event = EngineEvent(self._seq, kind, now, order.snapshot(), **extra)  # type: ignore[arg-type]
        self.log.append(event)
        self._batch.append(event)

    def _flush(self) -> list[EngineEvent]:
        batch, self._batch = self._batch, []
        if batch:
            for listener in self._listeners:
                listener(batch)
        return batch

    # -- working an order ---------------------------------------------------------------

    def _work(self, order: Order, now: int) -> None:
        """Match a working order against the book; rest or release what is left."""
        book = self.books[order.venue_symbol]
        if order.time_in_force is TimeInForce.FOK and not order.quote_sized:
            skip = order.account if order.stp is not StpMode.NONE else None
            if book.available(order.side, self._limit(order), skip) < order.remaining:
                self._finish(order, Status.EXPIRED, EndReason.UNFILLED_REMAINDER, now)
                return
        self._match(order, book, now)
        if order.status.is_terminal:
            return
        if order.quote_sized:
            filled = order.filled_qty > 0
            status = Status.FILLED if filled else Status.EXPIRED
            self._finish(order, status, None if filled else EndReason.UNFILLED_REMAINDER, now)
        elif order.order_type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC:
            self._finish(order, Status.EXPIRED, EndReason.UNFILLED_REMAINDER, now)
        else:
            self._priority += 1
            order.priority = self._priority
            book.add(order)

    @staticmethod
    def _limit(order: Order) -> Decimal | None:
        return order.price if order.order_type is OrderType.LIMIT else None

    def _match(self, taker: Order, book: OrderBook, now: int) -> None:
        limit = self._limit(taker)
        opposite = taker.side.opposite
        instrument = taker.instrument
        while taker.is_live:
            maker = book.best(opposite)
            if maker is None or not book.acceptable(taker.side, limit, maker.price):  # type: ignore[arg-type]
                return
            if maker.account == taker.account and taker.stp is not StpMode.NONE:
                self._prevent(taker, maker, now)
                continue
            if taker.quote_sized:
                budget_qty = instrument.lots_for(taker.budget_left, maker.price)  # type: ignore[arg-type]
                qty = min(maker.remaining, budget_qty)
            else:
                qty = min(maker.remaining, taker.remaining)
            if qty <= 0:
                return
            self._trade(maker, taker, qty, now)

    def _trade(self, maker: Order, taker: Order, qty: Decimal, now: int) -> None:
        price = maker.price
        assert price is not None
        trade_id = self.ids.trade_id()
        instrument = maker.instrument
        for order, liquidity, counter in (
            (maker, Liquidity.MAKER, taker),
            (taker, Liquidity.TAKER, maker),
        ):
            fee = instrument.fee(order.side, price, qty, liquidity)
            fill = Fill(
                self.venue,
                order.account,
                instrument.symbol,
                instrument.venue_symbol,
                order.order_id,
                trade_id,
                order.side,
                price,
                qty,
                fee,
                instrument.fee_asset(order.side),
                liquidity,
                now,
                counter.order_id,
            )
            order.filled_qty += qty
            order.filled_quote += price * qty
            order.fee += fee
            order.trades_count += 1
            order.updated_at = now
            order.fills.append(fill)
            self.fills.append(fill)
            if order.quote_sized:
                order.qty = order.filled_qty
                order.status = Status.PARTIALLY_FILLED
            elif order.remaining == 0:
                order.status = Status.FILLED
                order.canceled_qty = order.qty - order.filled_qty
                self._detach(order)
            else:
                order.status = Status.PARTIALLY_FILLED
            self._emit(EventKind.TRADE, order, now, fill=fill)
        self.last_price[instrument.venue_symbol] = price

    def _prevent(self, taker: Order, maker: Order, now: int) -> None:
        """Self-trade prevention by the taker's mode; `maker` is the same account's best."""
        mode = taker.stp
        match_id = self.ids.match_id()
        if mode is StpMode.DECREMENT and not taker.quote_sized:
            overlap = min(maker.remaining, taker.remaining)
            for order, counter in ((maker, taker), (taker, maker)):
                order.prevented_qty += overlap
                order.canceled_qty += overlap
                order.updated_at = now
                extra = {"stp": mode, "match_id": match_id, "counter_order_id": counter.order_id}
                if order.remaining == 0:
                    self._finish(
                        order, Status.CANCELED, EndReason.SELF_TRADE_PREVENTION, now,
                        kind=EventKind.PREVENTED, removed=overlap, **extra,
                    )  # fmt: skip
                else:
                    self._emit(EventKind.PREVENTED, order, now, qty=overlap, **extra)
            return
        if mode is StpMode.CANCEL_MAKER:
            victims = [(maker, taker)]
        elif mode is StpMode.CANCEL_BOTH:
            victims = [(maker, taker), (taker, maker)]
        else:  # CANCEL_TAKER, and DECREMENT for a quote-sized taker (no base overlap)
            victims = [(taker, maker)]
        for order, counter in victims:
            order.prevented_qty += order.remaining
            self._finish(
                order, Status.CANCELED, EndReason.SELF_TRADE_PREVENTION, now,
                kind=EventKind.PREVENTED, stp=mode, match_id=match_id,
                counter_order_id=counter.order_id,
            )  # fmt: skip

    # -- ending an order ----------------------------------------------------------------

    def _detach(self, order: Order) -> None:
        """Forget a terminal order everywhere it could still be found working.

        A pending deferred cancel is kept: when it comes due it reports CANCEL_REJECTED,
        as a venue answers a cancel that arrived after the order had ended.
        """
        self.books[order.venue_symbol].remove(order)
        self.live_orders.pop(order.order_id, None)
        self.conditionals[order.venue_symbol].pop(order.order_id, None)
        self._expiring.pop(order.order_id, None)
        order.cancel_pending = False

    def _finish(
        self,
        order: Order,
        status: Status,
        reason: EndReason | None,
        now: int,
        kind: EventKind | None = None,
        removed: Decimal | None = None,
        **extra: object,
    ) -> None:
        """End `order` with `status`; emit `kind` (EXPIRED or CANCELED by default)."""
        if removed is None:
            removed = order.remaining
        order.status = status
        order.end_reason = reason
        if order.quote_sized:
            order.qty = order.filled_qty
        order.canceled_qty = order.qty - order.filled_qty
        order.updated_at = now
        self._detach(order)
        if kind is None:
            kind = EventKind.CANCELED if status is Status.CANCELED else EventKind.EXPIRED
        self._emit(kind, order, now, qty=removed, **extra)

    # -- conditional orders -------------------------------------------------------------

    @staticmethod
    def _trigger_hit(order: Order, last: Decimal) -> bool:
        assert order.stop_price is not None
        rising = (order.trigger is TriggerKind.STOP_LOSS) == (order.side is Side.BUY)
        return last >= order.stop_price if rising else last <= order.stop_price

    def _wake(self, order: Order, now: int) -> None:
        self.conditionals[order.venue_symbol].pop(order.order_id, None)
        order.status = Status.PARTIALLY_FILLED if order.filled_qty else Status.OPEN
        order.working_at = now
        order.updated_at = now
        self._emit(EventKind.TRIGGERED, order, now)
        self._work(order, now)

    def _settle_triggers(self, now: int) -> None:
        """Wake every conditional order whose stop the last prices have reached, repeatedly
        (a woken order's trades can move the price and wake others)."""
        while True:
            woken = [
                order
                for symbol, waiting in self.conditionals.items()
                if symbol in self.last_price
                for order in waiting.values()
                if self._trigger_hit(order, self.last_price[symbol])
            ]
            if not woken:
                return
            for order in woken:
                if order.status is Status.UNTRIGGERED:
                    self._wake(order, now)

    # -- time ---------------------------------------------------------------------------

    def _advance(self, now: int) -> int:
        """Move the engine clock (never backwards) and do what became due: deferred cancels
        complete, timed orders expire."""
        self._now = max(self._now, now)
        now = self._now
        due = [oid for oid, (at, _) in self._pending_cancels.items() if at <= now]
        for order_id in due:
            self._complete_cancel(order_id, now)
        for order_id in [oid for oid, at in self._expiring.items() if at <= now]:
            order = self.orders[order_id]
            if order.is_live:
                self._finish(order, Status.EXPIRED, EndReason.EXCHANGE, now)
        if due:
            self._settle_triggers(now)
        return now

    def _complete_cancel(self, order_id: str, now: int) -> None:
        entry = self._pending_cancels.pop(order_id, None)
        if entry is None:
            return
        order = self.orders[order_id]
        if order.is_live:
            self._finish(order, Status.CANCELED, EndReason.USER, now, request_id=entry[1])
        else:  # filled (or ended otherwise) before the cancel came through
            self._emit(EventKind.CANCEL_REJECTED, order, now, request_id=entry[1])

    @property
    def now(self) -> int:
        return self._now
