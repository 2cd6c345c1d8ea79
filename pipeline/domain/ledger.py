"""The order ledger: one order's distinct events, kept sorted, folded into its state.

`OrderLedger.apply(event)` is the only way an order changes. It guarantees:

- Idempotence: an `event_id` seen before changes nothing (`apply` returns `None`). Two events
  with the same id are the same venue event, so the first arrival is kept (normalizers derive
  ids from the venue's identifiers; an id reused for different content would make the result
  depend on arrival).
- Arrival order does not matter: events are kept sorted by `order_sort_key`; an event that
  sorts last is one O(1) fold step, a late one is inserted and the fold resumes from the
  checkpoint before it. States are immutable, so a checkpoint is a reference, not a copy; one
  is kept every `CHECKPOINT_EVERY` events plus the last, so a short order holds one state.
  The final state is therefore always the fold of the sorted distinct events, and `version`
  (= number of distinct events) ends identical whatever the arrival order.
- Fills, first class: `OrderUpdate.fills` lists the fills to send downstream because of this
  event: the event's real fill when its trade id is new (or it now is the earliest report of
  that trade and its content differs), and derived fills (implied.py) that are new, revised
  (same trade id, new content) or voided (a copy with `qty == 0`). Derived fills exist only
  while the order has no real fill: the first real fill voids every derived fill emitted so
  far, so an order whose executions arrive on two channels is never counted twice. A real
  fill of zero quantity executed nothing and is ignored (the event itself is still folded).

Memory is bounded by the order's own events; `is_terminal` tells the owner when it may evict.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.domain.errors import ForeignEventError, InvalidQuantityError
from pipeline.domain.events import TERMINAL_STATUSES, Fill, OrderEvent
from pipeline.domain.orders import FoldMemo, OrderSortKey, OrderState, fold_event, order_sort_key

_ZERO = Decimal(0)


@dataclass(slots=True)
class OrderUpdate:
    """What one accepted event changed: the order's new state and the fills to emit.

    `late` is true when the event sorted before an event already applied (it was refolded);
    the stream processor counts it in its lateness metric.
    """

    state: OrderState
    fills: list[Fill]
    late: bool


def fill_signature(fill: Fill) -> tuple[object, ...]:
    """The content of a fill; a change of any part is a revision (re-emitted downstream).

    `received_at` is included so that the row kept downstream is the one of the fold in sorted
    order, whatever the arrival order (a derived fill takes it from the report implying it).
    """
    return (
        fill.side, fill.price, fill.qty, fill.fee, fill.fee_asset, fill.trade_time,
        fill.received_at,
    )  # fmt: skip


def void_of(fill: Fill) -> Fill:
    """The retraction of a derived fill: the same trade id with zero quantity and fee."""
    return Fill(
        fill.venue,
        fill.account,
        fill.symbol,
        fill.venue_symbol,
        fill.order_id,
        fill.trade_id,
        fill.side,
        fill.price,
        _ZERO,
        _ZERO,
        fill.fee_asset,
        fill.liquidity,
        fill.trade_time,
        fill.received_at,
    )


def check_event(event: OrderEvent) -> None:
    """Raise `InvalidQuantityError` for a negative quantity, `ForeignEventError` for a fill
    of another order or position."""
    qty, filled, canceled, quote = event.qty, event.filled_qty, event.canceled_qty, event.quote_qty
    if (
        (qty is not None and qty < _ZERO)
        or (filled is not None and filled < _ZERO)
        or (canceled is not None and canceled < _ZERO)
        or (quote is not None and quote < _ZERO)
    ):
        names = ("qty", "filled_qty", "canceled_qty", "quote_qty")
        bad = [f"{n} = {v}" for n, v in zip(names, (qty, filled, canceled, quote), strict=True)]
        raise InvalidQuantityError(f"event {event.event_id}: negative quantity in {bad}")
    fill = event.fill
    if fill is not None:
        if fill.qty < _ZERO:
            raise InvalidQuantityError(f"event {event.event_id}: fill qty {fill.qty} < 0")
        if (
            fill.order_id != event.order_id
            or fill.symbol != event.symbol
            or fill.account != event.account
            or fill.venue != event.venue
        ):
            raise ForeignEventError(
                f"event {event.event_id}: fill {fill.trade_id} belongs to order "
                f"{fill.order_id!r} / {fill.position_key}, not {event.order_key} / {event.symbol}"
            )


#: `OrderLedger.fold_into` results.
#: REPLACED: an earlier copy of an event already held replaced it (no new distinct event).
DUPLICATE, IN_ORDER, LATE, REPLACED = -1, 0, 1, 2
#: Keep the fold's state after every this many events (and after the last one).
CHECKPOINT_EVERY = 8
#: (implied level up to which derived fills are unchanged, recomputed (level, fill) pairs)
_Rederived = tuple[Decimal, list[tuple[Decimal, Fill]]]


class OrderLedger:
    """The sorted distinct events of one order, their fold, and the fills they imply.

    Storage is kept lean because a partition holds one ledger per live order, and every
    object it keeps is one more for the garbage collector to scan: the events sorted by
    `order_sort_key` (only the last one's key is kept; the rare late event or replaced copy
    recomputes keys to bisect), the fold of all of them (`_state`, `_memo`), and a checkpoint
    (state, memo) after every `CHECKPOINT_EVERY`-th event, created only once an order is that
    long. An event that sorts last (the common case) is one fold step from `_state`; a late
    one refolds from the checkpoint before it.
    """

    __slots__ = (
        "_checkpoints",
        "_emitted",
        "_events",
        "_ids",
        "_last_key",
        "_memo",
        "_real",
        "_state",
        "_trade_owner",
        "key",
    )

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key
        self._ids: dict[str, OrderEvent] = {}  # event id -> the copy kept
        self._events: list[OrderEvent] = []  # sorted by order_sort_key
        self._last_key: OrderSortKey | None = None  # order_sort_key(self._events[-1])
        self._state: OrderState | None = None  # the fold of every event held
        self._memo: FoldMemo | None = None
        # checkpoints[j] = (state, memo) after events[j * CHECKPOINT_EVERY + CHECKPOINT_EVERY - 1]
        self._checkpoints: list[tuple[OrderState, FoldMemo]] | None = None
        # Created on first use: most orders never need them.
        # trade id -> its earliest report (in sort order) among the events held
        self._trade_owner: dict[str, OrderEvent] | None = None
        self._real: dict[str, Fill] | None = None
        self._emitted: dict[str, tuple[Decimal, Fill]] | None = None  # id -> (level, fill)

    @property
    def state(self) -> OrderState | None:
        return self._state

    @property
    def is_terminal(self) -> bool:
        """True once the order is filled/canceled/rejected/expired: safe to evict later."""
        return self._state is not None and self._state.status in TERMINAL_STATUSES

    def __len__(self) -> int:
        return len(self._events)

    def apply(self, event: OrderEvent) -> OrderUpdate | None:
        """Fold `event` in; `None` for a duplicate. Raises `DomainError` on illegal input."""
        out: list[Any] = []
        outcome = self.fold_into(event, out)
        if outcome == DUPLICATE:
            return None
        return OrderUpdate(out[0], out[1:], outcome != IN_ORDER)

    def fold_into(self, event: OrderEvent, out: list[Any], routed: bool = False) -> int:
        """`apply` without allocating an update: append the new state, then the fills, to
        `out`; return `DUPLICATE` (nothing appended), `IN_ORDER`, `LATE` or `REPLACED`.

        `routed`: the caller picked this ledger by the event's own order key (as
        `TradingBook` does), so the check that the event belongs here is skipped.
        """
        if event.event_id in self._ids:
            return self._fold_copy(event, out)
        if not routed:
            self._check_owner(event)
        return self._accept(event, out, False)

    def _check_owner(self, event: OrderEvent) -> None:
        key = self.key
        if event.order_id != key[2] or event.account != key[1] or event.venue != key[0]:
            raise ForeignEventError(
                f"event {event.event_id} of order {event.order_key} sent to {key}"
            )

    def _fold_copy(self, event: OrderEvent, out: list[Any]) -> int:
        """A second copy of an event held: a duplicate, or an earlier report replacing it."""
        prior = self._ids[event.event_id]
        if (order_sort_key(event), event.received_at) >= (
            order_sort_key(prior),
            prior.received_at,
        ):
            return DUPLICATE
        # The same venue event, reported earlier (e.g. one REST state seen by two polls):
        # keep the earliest copy whatever the arrival order. Validate it before forgetting
        # the copy held, so that a `DomainError` leaves the ledger unchanged.
        self._check_owner(event)
        check_event(event)
        self._forget(prior)
        return self._accept(event, out, True)

    def _accept(self, event: OrderEvent, out: list[Any], replaced: bool) -> int:
        """Hold a new distinct event (its owner already checked) and fold it in."""
        check_event(event)
        sort_key = order_sort_key(event)
        self._ids[event.event_id] = event
        fill = event.fill
        owned = False  # is this event the earliest report of its fill's trade?
        if fill is not None and fill.qty:  # a zero-quantity "fill" executed nothing: ignored
            owners = self._trade_owner
            if owners is None:
                owners = self._trade_owner = {}
            owner = owners.get(fill.trade_id)
            if owner is None or sort_key < order_sort_key(owner):
                owners[fill.trade_id] = event
                owned = True
        events = self._events
        last_key = self._last_key
        if last_key is None or sort_key > last_key:
            events.append(event)
            self._last_key = sort_key
            if not replaced:
                # The hot path: the event sorts last, so the fold is one step from the state
                # held (after a `_forget` that state is stale, hence the refold below).
                state, memo = fold_event(self._state, self._memo, event, owned)
                self._state, self._memo = state, memo
                if len(events) % CHECKPOINT_EVERY == 0:
                    self._checkpoint(state, memo)
                out.append(state)
                if owned or memo.derived is not None or self._emitted:
                    self._fills_into(event, owned, None, out)
                return IN_ORDER
            index = len(events) - 1
        else:
            index = bisect_right(events, sort_key, key=order_sort_key)
            events.insert(index, event)
        late = index < len(events) - 1
        rederived = self._refold(index, late)
        out.append(self._state)
        self._fills_into(event, owned, rederived, out)
        if replaced:
            return REPLACED
        return LATE if late else IN_ORDER

    def _checkpoint(self, state: OrderState, memo: FoldMemo) -> None:
        if self._checkpoints is None:
            self._checkpoints = []
        self._checkpoints.append((state, memo))

    def _forget(self, prior: OrderEvent) -> None:
        """Remove the stored copy `prior` (it is about to be replaced by an earlier copy of
        the same event, which refolds from its own, earlier position)."""
        events = self._events
        index = bisect_left(events, order_sort_key(prior), key=order_sort_key)
        del events[index]
        self._last_key = order_sort_key(events[-1]) if events else None
        if self._checkpoints:
            del self._checkpoints[index // CHECKPOINT_EVERY :]
        owners = self._trade_owner
        if owners:
            for trade_id, owner in list(owners.items()):
                if owner is prior:
                    del owners[trade_id]

    def _refold(self, start: int, late: bool) -> _Rederived | None:
        """Fold from the last checkpoint before `start` to the end.

        Only every `CHECKPOINT_EVERY`-th state (and the last) is kept, so a short order holds
        one state, not one per event. For a late event, return the derived fills recomputed
        and the implied level where recomputation began (fills up to it are unchanged).
        """
        checkpoints = self._checkpoints or []
        # the checkpoints wholly before `start` stay valid; fold on from the last of them
        kept = min(start // CHECKPOINT_EVERY, len(checkpoints))
        del checkpoints[kept:]
        state: OrderState | None = None
        memo: FoldMemo | None = None
        if kept:
            state, memo = checkpoints[-1]
        rederived: _Rederived | None = None
        if late:
            rederived = (memo.implied.level if memo is not None else _ZERO, [])
        owners = self._trade_owner
        events = self._events
        for i in range(kept * CHECKPOINT_EVERY, len(events)):
            event = events[i]
            fill = event.fill
            counted = False
            if fill is not None and owners is not None:
                counted = owners.get(fill.trade_id) is event
            state, memo = fold_event(state, memo, event, counted)
            if i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                self._checkpoint(state, memo)
            if rederived is not None and memo.derived is not None:
                rederived[1].append((memo.implied.level, memo.derived))
        self._state, self._memo = state, memo
        return rederived

    def _fills_into(
        self, event: OrderEvent, owned: bool, rederived: _Rederived | None, out: list[Any]
    ) -> None:
        """Append the fills to emit because of `event`; `owned`: it is the earliest report of
        its (non-zero) fill's trade."""
        fill = event.fill
        real = self._real
        if owned:
            assert fill is not None
            if real is None:
                real = self._real = {}
            known = real.get(fill.trade_id)
            if known is None or fill_signature(known) != fill_signature(fill):
                real[fill.trade_id] = fill
                out.append(fill)
        emitted = self._emitted
        if real:
            if emitted:
                out.extend(void_of(old) for _, old in emitted.values())
                emitted.clear()
            return
        if rederived is None:  # in order: at most one new derived fill, from the last step
            memo = self._memo
            derived = memo.derived  # type: ignore[union-attr]
            if derived is not None:
                if emitted is None:
                    emitted = self._emitted = {}
                emitted[derived.trade_id] = (memo.implied.level, derived)  # type: ignore[union-attr]
                out.append(derived)
            return
        unchanged_upto, recomputed = rederived
        emitted = emitted or {}
        wanted = {tid: entry for tid, entry in emitted.items() if entry[0] <= unchanged_upto}
        for level, new in recomputed:
            wanted[new.trade_id] = (level, new)
            old = emitted.get(new.trade_id)
            if old is None or fill_signature(old[1]) != fill_signature(new):
                out.append(new)
        out.extend(void_of(old) for tid, (_, old) in emitted.items() if tid not in wanted)
        self._emitted = wanted
