"""`Exchange`: one venue's matching engine, the operations a client (or the flow) may ask for.

Pure and deterministic: no I/O, no clock of its own (every operation takes `now`, epoch ms;
the engine clock never goes backwards), ids from a seeded `IdScheme`. Each operation either
raises `EngineRejection` having changed nothing, or applies the change and returns the
events it caused, in order (also appended to `log` and handed to subscribers).

Operations and the venues that use them:
- `place`: every venue;
- `cancel`: whole remainder, or a partial cancel by quantity where `rules.partial_cancel`;
- `request_cancel`: acknowledged now, completed `rules.cancel_delay_ms` later (Upbit, SSI,
  the futures gateway); a fill can land in between;
- `amend`: reduce the quantity keeping queue priority (Binance order.amend.keepPriority);
- `cancel_all`: one account's live orders, optionally by symbol / side, immediate or deferred;
- `tick`: let time pass (deferred cancels complete, timed orders expire).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from pipeline.sim.engine.errors import EngineRejection, RejectCode
from pipeline.sim.engine.events import EngineEvent, EventKind
from pipeline.sim.engine.matching import MatchingCore
from pipeline.sim.engine.model import (
    EndReason,
    Instrument,
    Order,
    OrderRequest,
    OrderType,
    Side,
    Status,
    StpMode,
    TimeInForce,
)
from pipeline.sim.engine.rules import ClientIdReuse, IdScheme, PostOnlyPolicy, VenueRules
from pipeline.sim.engine.state import EngineState

_R = RejectCode


class Exchange(MatchingCore):
    """All books of one venue and the public operations on them."""

    def __init__(
        self, venue: str, instruments: Sequence[Instrument], rules: VenueRules, ids: IdScheme
    ) -> None:
        super().__init__(venue, instruments, rules, ids)
        self._by_client: dict[tuple[str, str], Order] = {}

    # -- queries ------------------------------------------------------------------------

    def instrument(self, venue_symbol: str) -> Instrument:
        found = self.instruments.get(venue_symbol)
        if found is None:
            raise EngineRejection(_R.UNKNOWN_SYMBOL, f"unknown symbol {venue_symbol!r}")
        return found

    def order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def by_client_id(self, account: str, client_order_id: str) -> Order | None:
        """The account's latest order with this client id (terminal ones included)."""
        return self._by_client.get((account, client_order_id))

    def open_orders(
        self, account: str | None = None, venue_symbol: str | None = None
    ) -> list[Order]:
        """Live orders (working and untriggered), oldest first."""
        return [
            order
            for order in self.live_orders.values()
            if (account is None or order.account == account)
            and (venue_symbol is None or order.venue_symbol == venue_symbol)
        ]

    def find(
        self, account: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """The account's order by id (preferred) or client id; `UNKNOWN_ORDER` otherwise."""
        order = self.orders.get(order_id) if order_id else None
        if order is None and order_id is None and client_order_id:
            order = self._by_client.get((account, client_order_id))
        if order is None or order.account != account:
            raise EngineRejection(_R.UNKNOWN_ORDER, "unknown order")
        return order

    # -- placing ------------------------------------------------------------------------

    def place(self, request: OrderRequest, now: int) -> tuple[Order, list[EngineEvent]]:
        """Accept, match and rest (or release) a new order; the order and the events."""
        instrument = self.instrument(request.symbol)
        self._validate(request, instrument, now)
        book = self.books[instrument.venue_symbol]
        crossing = request.post_only and book.would_cross(request.side, request.price)
        if crossing and self.rules.post_only is PostOnlyPolicy.REJECT:
            raise EngineRejection(_R.POST_ONLY_WOULD_TAKE, "post-only order would take")
        last = self.last_price.get(instrument.venue_symbol)
        if request.trigger is not None and self.rules.reject_stop_triggering_now:
            probe = Order(
                "", "", self.venue, request.account, instrument, request.side,
                request.order_type, request.time_in_force, False, request.price, Decimal(0),
                None, request.trigger, request.stop_price, StpMode.NONE, now, now,
            )  # fmt: skip
            if last is not None and self._trigger_hit(probe, last):
                raise EngineRejection(_R.STOP_WOULD_TRIGGER, "stop price would trigger now")
        client_id = request.client_order_id
        if client_id is None and self.rules.generate_client_ids:
            client_id = self.ids.client_order_id()
        if client_id is not None:
            self._check_client_id(request.account, client_id)
        now = self._advance(now)
        order = Order(
            order_id=self.ids.order_id(),
            client_order_id=client_id,
            venue=self.venue,
            account=request.account,
            instrument=instrument,
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            post_only=request.post_only,
            price=request.price,
            qty=request.qty if request.qty is not None else Decimal(0),
            quote_qty=request.quote_qty,
            trigger=request.trigger,
            stop_price=request.stop_price,
            stp=request.stp,
            created_at=now,
            updated_at=now,
            expire_at=request.expire_at,
        )
        order.orig_qty = order.qty
        order.orig_client_order_id = client_id
        self.orders[order.order_id] = order
        self.live_orders[order.order_id] = order
        if client_id is not None:
            self._by_client[(order.account, client_id)] = order
        if order.expire_at is not None:
            self._expiring[order.order_id] = order.expire_at
        if order.trigger is not None:
            order.status = Status.UNTRIGGERED
            self.conditionals[instrument.venue_symbol][order.order_id] = order
            self._emit(EventKind.ACCEPTED, order, now)
        else:
            order.working_at = now
            self._emit(EventKind.ACCEPTED, order, now)
            if crossing:  # PostOnlyPolicy.CANCEL
                self._finish(order, Status.CANCELED, EndReason.EXCHANGE, now)
            else:
                self._work(order, now)
        self._settle_triggers(now)
        return order, self._flush()

    def _validate(self, request: OrderRequest, instrument: Instrument, now: int) -> None:
        if (request.qty is None) == (request.quote_qty is None):
            raise EngineRejection(_R.INVALID_PARAMETERS, "give exactly one of qty, quote_qty")
        if request.qty is not None and not instrument.on_lot(request.qty):
            raise EngineRejection(_R.INVALID_QUANTITY, f"quantity {request.qty} off lot grid")
        if request.quote_qty is not None and (
            request.quote_qty <= 0
            or request.order_type is not OrderType.MARKET
            or request.side is not Side.BUY
        ):
            raise EngineRejection(_R.INVALID_PARAMETERS, "quote_qty is for market buys only")
        if request.order_type is OrderType.LIMIT:
            if request.price is None or not instrument.on_tick(request.price):
                raise EngineRejection(_R.INVALID_PRICE, f"price {request.price} off tick grid")
        elif request.price is not None or request.post_only:
            raise EngineRejection(_R.INVALID_PARAMETERS, "a market order takes no price")
        if request.post_only and request.time_in_force is not TimeInForce.GTC:
            raise EngineRejection(_R.INVALID_PARAMETERS, "post-only orders are GTC")
        if request.trigger is not None and (
            request.stop_price is None or not instrument.on_tick(request.stop_price)
        ):
            raise EngineRejection(_R.INVALID_PRICE, f"stop price {request.stop_price} invalid")
        if request.stp is not StpMode.NONE and request.stp not in self.rules.stp_modes:
            raise EngineRejection(_R.UNSUPPORTED, f"self-trade prevention {request.stp}")
        if request.expire_at is not None and request.expire_at <= now:
            raise EngineRejection(_R.INVALID_PARAMETERS, "expiry time is in the past")

    def _check_client_id(self, account: str, client_id: str) -> None:
        existing = self._by_client.get((account, client_id))
        if existing is None:
            return
        if self.rules.client_id_reuse is ClientIdReuse.NEVER or existing.is_live:
            raise EngineRejection(_R.DUPLICATE_CLIENT_ID, f"client id {client_id!r} in use")

    # -- cancelling and amending --------------------------------------------------------

    def _live(self, order_id: str, account: str | None) -> Order:
        order = self.orders.get(order_id)
        if order is None or (account is not None and order.account != account):
            raise EngineRejection(_R.UNKNOWN_ORDER, "unknown order")
        if not order.is_live:
            raise EngineRejection(_R.ORDER_CLOSED, f"order is {order.status}")
        return order

    def cancel(
        self,
        order_id: str,
        now: int,
        qty: Decimal | None = None,
        request_id: str | None = None,
        account: str | None = None,
    ) -> list[EngineEvent]:
        """Cancel the remainder now, or only `qty` of it where partial cancels exist."""
        now = self._advance(now)
        order = self._live(order_id, account)
        if qty is not None and qty < order.remaining:
            if not self.rules.partial_cancel:
                raise EngineRejection(_R.UNSUPPORTED, "partial cancel is not supported")
            if not order.instrument.on_lot(qty):
                raise EngineRejection(_R.INVALID_QUANTITY, f"quantity {qty} off lot grid")
            order.canceled_qty += qty
            order.updated_at = now
            self._emit(EventKind.PARTIALLY_CANCELED, order, now, qty=qty, request_id=request_id)
        else:
            self._finish(order, Status.CANCELED, EndReason.USER, now, request_id=request_id)
        return self._flush()

    def request_cancel(
        self, order_id: str, now: int, request_id: str | None = None, account: str | None = None
    ) -> list[EngineEvent]:
        """Acknowledge a cancel now and complete it `rules.cancel_delay_ms` later (`tick`)."""
        now = self._advance(now)
        order = self._live(order_id, account)
        if order.order_id not in self._pending_cancels:
            self._pending_cancels[order.order_id] = (now + self.rules.cancel_delay_ms, request_id)
            order.cancel_pending = True
            self._emit(EventKind.CANCEL_REQUESTED, order, now, request_id=request_id)
        self._advance(now)  # a zero delay completes at once
        self._settle_triggers(now)
        return self._flush()

    def amend(
        self,
        order_id: str,
        new_qty: Decimal,
        now: int,
        new_client_order_id: str | None = None,
        account: str | None = None,
    ) -> list[EngineEvent]:
        """Reduce the order's quantity to `new_qty`, keeping its place in the queue."""
        if not self.rules.amend_keep_priority:
            raise EngineRejection(_R.UNSUPPORTED, "amend is not supported")
        now = self._advance(now)
        order = self._live(order_id, account)
        if order.quote_sized or not order.instrument.on_lot(new_qty):
            raise EngineRejection(_R.INVALID_QUANTITY, f"quantity {new_qty} invalid")
        if new_qty >= order.qty:
            raise EngineRejection(_R.AMEND_NOT_REDUCING, "quantity increase is not supported")
        if new_qty <= order.filled_qty + order.canceled_qty:
            raise EngineRejection(_R.INVALID_QUANTITY, "new quantity is not above what executed")
        if order.amend_count >= self.rules.max_amends:
            raise EngineRejection(_R.AMEND_LIMIT, "too many amends for this order")
        client_id = new_client_order_id or self.ids.client_order_id()
        if client_id != order.client_order_id:
            self._check_client_id(order.account, client_id)
        previous = order.qty
        order.qty = new_qty
        order.amend_count += 1
        order.orig_client_order_id = order.client_order_id
        order.client_order_id = client_id
        order.updated_at = now
        self._by_client[(order.account, client_id)] = order
        self._emit(EventKind.AMENDED, order, now, qty=previous, request_id=client_id)
        return self._flush()

    def cancel_all(
        self,
        account: str,
        now: int,
        venue_symbols: Iterable[str] | None = None,
        side: Side | None = None,
        include_untriggered: bool = True,
        deferred: bool = False,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> tuple[list[Order], list[EngineEvent]]:
        """Cancel the account's live orders matching the filters; (orders hit, events)."""
        now = self._advance(now)
        symbols = None if venue_symbols is None else set(venue_symbols)
        targets = [
            order
            for order in self.open_orders(account)
            if (symbols is None or order.venue_symbol in symbols)
            and (side is None or order.side is side)
            and (include_untriggered or order.status is not Status.UNTRIGGERED)
            and not order.cancel_pending
        ]
        if newest_first:
            targets.reverse()
        if limit is not None:
            targets = targets[:limit]
        for order in targets:
            if deferred:
                due = now + self.rules.cancel_delay_ms
                self._pending_cancels[order.order_id] = (due, None)
                order.cancel_pending = True
                self._emit(EventKind.CANCEL_REQUESTED, order, now)
            else:
                self._finish(order, Status.CANCELED, EndReason.USER, now)
        self._advance(now)
        self._settle_triggers(now)
        return targets, self._flush()

    # -- time ---------------------------------------------------------------------------

    def tick(self, now: int) -> list[EngineEvent]:
        """Let time pass to `now`: complete due cancels, expire timed orders."""
        self._advance(now)
        return self._flush()

    def complete_pending(self, now: int) -> list[EngineEvent]:
        """Complete every deferred cancel now, due or not (to reach a quiet end state)."""
        now = self._advance(now)
        for order_id in list(self._pending_cancels):
            self._complete_cancel(order_id, now)
        self._settle_triggers(now)
        return self._flush()

    @property
    def has_pending(self) -> bool:
        return bool(self._pending_cancels)

    # -- keeping the state across restarts ----------------------------------------------

    @property
    def seq(self) -> int:
        """The sequence number of the latest event: it moves whenever the state changes."""
        return self._seq

    def export_state(self) -> EngineState:
        """Everything this engine holds (the orders themselves, not copies: encode them
        before the next operation)."""
        return EngineState(
            orders=list(self.orders.values()),
            fills=list(self.fills),
            last_price=dict(self.last_price),
            pending_cancels=[(oid, due, rid) for oid, (due, rid) in self._pending_cancels.items()],
            by_client=[(acct, cid, o.order_id) for (acct, cid), o in self._by_client.items()],
            seq=self._seq,
            priority=self._priority,
            now=self._now,
            ids=self.ids.state(),
        )

    def restore_state(self, state: EngineState) -> None:
        """Become the engine `state` was exported from; only for a fresh engine.

        Derived: live orders are the non-terminal ones in acceptance order, untriggered ones
        wait per symbol, the working ones rest on their book in queue-priority order (after
        every operation each working order rests: market, IOC and FOK remainders end inside
        the operation that placed or woke them).
        """
        if self.orders or self._seq:
            raise ValueError(f"{self.venue}: restore_state needs a fresh engine")
        for order in state.orders:
            if order.instrument is not self.instruments.get(order.venue_symbol):
                raise ValueError(f"{self.venue}: order {order.order_id} has a foreign instrument")
            self.orders[order.order_id] = order
            if not order.is_live:
                continue
            self.live_orders[order.order_id] = order
            if order.expire_at is not None:
                self._expiring[order.order_id] = order.expire_at
            if order.status is Status.UNTRIGGERED:
                self.conditionals[order.venue_symbol][order.order_id] = order
        working = [o for o in self.live_orders.values() if o.status is not Status.UNTRIGGERED]
        for order in sorted(working, key=lambda o: o.priority):
            self.books[order.venue_symbol].add(order)
        self.fills = list(state.fills)
        self.last_price = dict(state.last_price)
        self._pending_cancels = {oid: (due, rid) for oid, due, rid in state.pending_cancels}
        for account, client_id, order_id in state.by_client:
            self._by_client[(account, client_id)] = self.orders[order_id]
        self._seq, self._priority, self._now = state.seq, state.priority, state.now
        self.ids.restore(state.ids)
