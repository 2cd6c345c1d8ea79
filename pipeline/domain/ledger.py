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
    """The sorted distinct events of one order, their fold, and the fills they imply."""

    __slots__ = (
        "_emitted",
        "_events",
        "_ids",
        "_keys",
        "_memos",
        "_real",
        "_states",
        "_trade_owner",
        "key",
    )

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key
        # event id -> (sort key, received_at) of the copy kept
        self._ids: dict[str, tuple[OrderSortKey, int]] = {}
        self._keys: list[OrderSortKey] = []
        self._events: list[OrderEvent] = []
        self._states: list[OrderState | None] = []  # sparse: checkpoints and the last
        self._memos: list[FoldMemo | None] = []
        # Created on first use: most orders never need them.
        self._trade_owner: dict[str, tuple[OrderSortKey, str]] | None = None
        self._real: dict[str, Fill] | None = None
        self._emitted: dict[str, tuple[Decimal, Fill]] | None = None  # id -> (level, fill)

    @property
    def state(self) -> OrderState | None:
        return self._states[-1] if self._states else None

    @property
    def is_terminal(self) -> bool:
        """True once the order is filled/canceled/rejected/expired: safe to evict later."""
        return bool(self._states) and self._states[-1].status in TERMINAL_STATUSES

    def __len__(self) -> int:
        return len(self._keys)

    def apply(self, event: OrderEvent) -> OrderUpdate | None:
        """Fold `event` in; `None` for a duplicate. Raises `DomainError` on illegal input."""
        out: list[Any] = []
        outcome = self.fold_into(event, out)
        if outcome == DUPLICATE:
            return None
        return OrderUpdate(out[0], out[1:], outcome != IN_ORDER)

    def fold_into(self, event: OrderEvent, out: list[Any]) -> int:
        """`apply` without allocating an update: append the new state, then the fills, to
        `out`; return `DUPLICATE` (nothing appended), `IN_ORDER`, `LATE` or `REPLACED`."""
        event_id = event.event_id
        prior = self._ids.get(event_id)
        if prior is not None:
            sort_key = order_sort_key(event)
            if (sort_key, event.received_at) >= prior:
                return DUPLICATE
            # The same venue event, reported earlier (e.g. one REST state seen by two polls):
            # keep the earliest copy whatever the arrival order.
            self._forget(prior[0])
            replaced = True
        else:
            replaced = False
        key = self.key
        if event.order_id != key[2] or event.account != key[1] or event.venue != key[0]:
            raise ForeignEventError(f"event {event_id} of order {event.order_key} sent to {key}")
        check_event(event)
        sort_key = order_sort_key(event)
        self._ids[event_id] = (sort_key, event.received_at)
        fill = event.fill
        if fill is not None and fill.qty:  # a zero-quantity "fill" executed nothing: ignored
            owners = self._trade_owner
            if owners is None:
                owners = self._trade_owner = {}
            owner = owners.get(fill.trade_id)
            if owner is None or sort_key < owner[0]:
                owners[fill.trade_id] = (sort_key, event_id)
        keys = self._keys
        if not keys or sort_key > keys[-1]:
            index = len(keys)
            keys.append(sort_key)
            self._events.append(event)
            self._states.append(None)
            self._memos.append(None)
        else:
            index = bisect_right(keys, sort_key)
            keys.insert(index, sort_key)
            self._events.insert(index, event)
            self._states.insert(index, None)
            self._memos.insert(index, None)
        late = index < len(keys) - 1
        rederived = self._refold(index, late)
        out.append(self._states[-1])
        self._fills_into(event, rederived, out)
        if replaced:
            return REPLACED
        return LATE if late else IN_ORDER

    def _forget(self, sort_key: OrderSortKey) -> None:
        """Remove the stored copy sorted at `sort_key` (it is about to be replaced by an
        earlier copy of the same event, which refolds from its own, earlier position)."""
        index = bisect_left(self._keys, sort_key)
        del self._keys[index], self._events[index], self._states[index], self._memos[index]
        owners = self._trade_owner
        if owners:
            for trade_id, (owner_key, _owner_id) in list(owners.items()):
                if owner_key == sort_key:
                    del owners[trade_id]

    def _owns(self, event: OrderEvent, fill: Fill) -> bool:
        """Is `event` the earliest (in sort order) report of `fill`'s trade?"""
        owners = self._trade_owner
        if owners is None:
            return False
        owner = owners.get(fill.trade_id)
        return owner is not None and owner[1] == event.event_id

    def _refold(self, start: int, late: bool) -> _Rederived | None:
        """Fold from the last checkpoint before `start` to the end.

        Only every `CHECKPOINT_EVERY`-th state (and the last) is kept, so a short order holds
        one state, not one per event. For a late event, return the derived fills recomputed
        and the implied level where recomputation began (fills up to it are unchanged).
        """
        states, memos, events = self._states, self._memos, self._events
        restart = start - 1
        while restart >= 0 and states[restart] is None:
            restart -= 1
        state = states[restart] if restart >= 0 else None
        memo = memos[restart] if restart >= 0 else None
        rederived: _Rederived | None = None
        if late:
            rederived = (memo.implied.level if memo is not None else _ZERO, [])
        last = len(events) - 1
        owners = self._trade_owner
        for i in range(restart + 1, last + 1):
            event = events[i]
            fill = event.fill
            counted = False
            if fill is not None and owners is not None:
                owner = owners.get(fill.trade_id)
                counted = owner is not None and owner[1] == event.event_id
            state, memo = fold_event(state, memo, event, counted)
            if i == last or i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                states[i], memos[i] = state, memo
            else:
                states[i] = memos[i] = None
            if rederived is not None and memo.derived is not None:
                rederived[1].append((memo.implied.level, memo.derived))
        if 0 <= restart < last and restart % CHECKPOINT_EVERY != CHECKPOINT_EVERY - 1:
            states[restart] = memos[restart] = None  # the previous last state, no checkpoint
        return rederived

    def _fills_into(self, event: OrderEvent, rederived: _Rederived | None, out: list[Any]) -> None:
        fill = event.fill
        real = self._real
        if fill is not None and self._owns(event, fill):
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
            memo = self._memos[-1]
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
