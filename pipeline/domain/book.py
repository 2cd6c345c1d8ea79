"""The trading book: every order ledger and position ledger, behind one `apply(event)`.

The stream processor (and `pipeline fold`) calls `TradingBook.apply(event)` once per
canonical event and emits what it returns, in that order:

    [OrderState, *fills, Position]   an accepted event (fills and position when it bears fills)
    []                               a duplicate, or a report about an evicted order

Position versions are stamped here rather than counted per fill: a position's version is the
number of distinct *fill-bearing* events of its (venue, account, symbol) - events with a real
fill, or `fills_implied` events stating a positive `filled_qty`. Every position change is
caused by such an event (real fills and voids come with real fills; derived fills and their
revisions depend only on implied reports, see implied.py), and a position row is emitted for
each of them, so the last row of any arrival order of the same events carries the same version
and the same content. A `ReplacingMergeTree(version)` therefore converges to the same row
whatever the replay. (Counting fill changes instead would make the version depend on how
often derived fills were revised, i.e. on arrival order.)

Final-state corrections (reconciliation drift): an accepted report that changes the filled
quantity or the status of an order whose state was already final (terminal) before it is
counted, in `snapshot_corrections` when the report is a snapshot (a REST poll, a reconnect
snapshot, a request's reply: the venue's own view of the order disagreed with what its
streams had made final) and in `stream_corrections` when it is a live report (a trade reported
after the cancel that ended the order). Normal polling never counts: a poll restating the
final state changes nothing, and a poll older than it (stale: less filled, or still open)
changes nothing either. These counters are runtime telemetry, not state: a checkpoint does not
carry them and a restored book starts them at 0.

Final orders missing fills (ground-truth drift): `final_orders_missing_fills(before_ms)`
counts the final orders, settled (last updated) by `before_ms`, whose filled quantity is more
than their fills account for (`OrderLedger.unaccounted_filled_qty`): the venue said more was
executed than the trades we hold, so executions were lost and the positions lack them. It
scans the final orders held (the eviction candidates), so the owner calls it as often as it
evicts, not per event.

Eviction: `evict(now_ms, retention_ms)` drops ledgers of orders terminal for longer than the
retention (by their last event time) and remembers their keys for `tombstone_ms`. A report
about a remembered order changes no order state (counted in `after_eviction`); a real fill on
it still reaches the position, whose ledger deduplicates by trade id. Pick a retention longer
than the redelivery horizon, or a replayed order would be rebuilt from a partial history.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from pipeline.domain.events import TERMINAL_STATUSES, Fill, OrderEvent
from pipeline.domain.ledger import DUPLICATE, LATE, REPLACED, OrderLedger, check_event
from pipeline.domain.orders import OrderState
from pipeline.domain.positions import Position, PositionLedger, PositionLedgerState

BookOutput: TypeAlias = OrderState | Fill | Position
OrderKey: TypeAlias = tuple[str, str, str]
PositionKey: TypeAlias = tuple[str, str, str]

DAY_MS = 86_400_000


class BookState:
    """A trading book as plain values: each order's distinct events in sort order (the
    orders' states are their fold), the evicted order keys with when, each position ledger,
    and the counters (duplicates, late events, reports after eviction)."""

    __slots__ = ("counters", "evicted", "orders", "positions")

    def __init__(
        self,
        orders: list[tuple[OrderKey, list[OrderEvent]]],
        evicted: list[tuple[OrderKey, int]],
        positions: list[PositionLedgerState],
        counters: tuple[int, int, int],
    ) -> None:
        self.orders = orders
        self.evicted = evicted
        self.positions = positions
        self.counters = counters


class TradingBook:
    """All orders and positions of a partition, as pure state; no I/O, no clock."""

    __slots__ = (
        "_evicted",
        "_orders",
        "_positions",
        "_terminal",
        "after_eviction",
        "duplicates",
        "late_events",
        "snapshot_corrections",
        "stream_corrections",
        "tombstone_ms",
    )

    def __init__(self, tombstone_ms: int = 7 * DAY_MS) -> None:
        self.tombstone_ms = tombstone_ms
        self._orders: dict[OrderKey, OrderLedger] = {}
        self._positions: dict[PositionKey, PositionLedger] = {}
        self._terminal: dict[OrderKey, OrderLedger] = {}
        self._evicted: dict[OrderKey, int] = {}  # insertion order == eviction time order
        self.duplicates = 0
        self.late_events = 0
        self.after_eviction = 0
        self.snapshot_corrections = 0
        self.stream_corrections = 0

    def apply(self, event: OrderEvent) -> list[BookOutput]:
        """Fold one canonical event; return the outputs to emit. Raises `DomainError`."""
        order_key = (event.venue, event.account, event.order_id)
        ledger = self._orders.get(order_key)
        out: list[BookOutput] = []
        if ledger is None:
            if order_key in self._evicted:
                return self._after_eviction(event)
            ledger = OrderLedger(order_key)
            outcome = ledger.fold_into(event, out, True)
            self._orders[order_key] = ledger  # only once the first event proved legal
        else:
            before = ledger.state
            outcome = ledger.fold_into(event, out, True)
            if outcome is DUPLICATE:
                self.duplicates += 1
                return out
            if outcome is LATE:
                self.late_events += 1
            if before is not None and before.status in TERMINAL_STATUSES:
                self._count_correction(before, out[0], event)  # type: ignore[arg-type]
        if out[0].status in TERMINAL_STATUSES:  # type: ignore[union-attr]
            self._terminal[order_key] = ledger
        fill = event.fill
        if len(out) == 2 and fill is out[1] and outcome is not REPLACED:
            # The common fill-bearing case: the event's own new fill, nothing else.
            self._own_position(event).apply_one(fill, out)
        elif len(out) > 1 or fill is not None or (event.fills_implied and event.filled_qty):
            # an earlier copy replacing an event already counted is no new fill-bearing event
            bump = 0 if outcome is REPLACED else 1
            self._positions_into(event, out[1:], out, bump)  # type: ignore[arg-type]
        return out

    def _count_correction(self, before: OrderState, after: OrderState, event: OrderEvent) -> None:
        """Count `event` if it changed a final order's filled quantity or status."""
        if after.filled_qty != before.filled_qty or after.status is not before.status:
            if event.is_snapshot:
                self.snapshot_corrections += 1
            else:
                self.stream_corrections += 1

    def _own_position(self, event: OrderEvent) -> PositionLedger:
        key = (event.venue, event.account, event.symbol)
        ledger = self._positions.get(key)
        if ledger is None:
            ledger = self._positions[key] = PositionLedger(key)
        return ledger

    def _positions_into(
        self, event: OrderEvent, fills: list[Fill], out: list[BookOutput], bump: int = 1
    ) -> None:
        """Apply `fills` to their positions; append each touched position to `out` once,
        stamped with its next version (the event's own position always, see module doc)."""
        own = (event.venue, event.account, event.symbol)
        groups: dict[PositionKey, list[Fill]] | None = None
        for fill in fills:
            if fill.symbol != own[2]:  # only voids of fills reported under another symbol
                groups = {own: []}
                for f in fills:
                    groups.setdefault((f.venue, f.account, f.symbol), []).append(f)
                break
        positions = self._positions
        for key, group in groups.items() if groups is not None else ((own, fills),):
            ledger = positions.get(key)
            if ledger is None:
                ledger = positions[key] = PositionLedger(key)
            out.append(ledger.apply_batch(group, ledger.version + bump))

    def _after_eviction(self, event: OrderEvent) -> list[BookOutput]:
        self.after_eviction += 1
        if event.fill is None:
            return []
        check_event(event)
        out: list[BookOutput] = []
        self._positions_into(event, [event.fill], out)
        return out

    def evict(self, now_ms: int, retention_ms: int) -> list[OrderKey]:
        """Forget orders terminal and untouched since `now_ms - retention_ms`; return keys.

        Positions fold their fills older than the same cutoff into a base and forget the ids
        of fills older than the tombstone horizon, so memory (and a checkpoint) is bounded by
        the live orders and the recent history, never by the whole of it.
        """
        cutoff = now_ms - retention_ms
        forget_fills_before = now_ms - self.tombstone_ms
        for position in self._positions.values():
            position.compact(cutoff, forget_fills_before)
        gone = [
            key
            for key, ledger in self._terminal.items()
            if ledger.state is not None and ledger.state.updated_at <= cutoff
        ]
        for key in gone:
            del self._terminal[key]
            del self._orders[key]
            self._evicted[key] = now_ms
        forget_before = now_ms - self.tombstone_ms
        stale = []
        for key, evicted_at in self._evicted.items():
            if evicted_at > forget_before:
                break
            stale.append(key)
        for key in stale:
            del self._evicted[key]
        return gone

    def final_orders_missing_fills(self, before_ms: int) -> int:
        """How many final orders last updated at or before `before_ms` lack fills for part of
        their filled quantity (see the module doc)."""
        count = 0
        for ledger in self._terminal.values():
            state = ledger.state
            if (
                state is not None
                and state.updated_at <= before_ms
                and ledger.unaccounted_filled_qty > 0
            ):
                count += 1
        return count

    def export(self) -> BookState:
        """Everything the book holds, as plain values (a checkpoint's part; see `restore`)."""
        return BookState(
            [(key, ledger.events()) for key, ledger in self._orders.items()],
            list(self._evicted.items()),
            [ledger.export() for ledger in self._positions.values()],
            (self.duplicates, self.late_events, self.after_eviction),
        )

    @classmethod
    def restore(cls, state: BookState, tombstone_ms: int = 7 * DAY_MS) -> TradingBook:
        """The book `export` described: every later event gets the outputs it would have
        got from the book that was exported."""
        book = cls(tombstone_ms)
        for key, events in state.orders:
            ledger = OrderLedger.restore(key, events)
            book._orders[key] = ledger
            if ledger.is_terminal:
                book._terminal[key] = ledger
        book._evicted = dict(state.evicted)
        for position in state.positions:
            book._positions[position.key] = PositionLedger.restore(position)
        book.duplicates, book.late_events, book.after_eviction = state.counters
        return book

    def order(self, key: OrderKey) -> OrderState | None:
        ledger = self._orders.get(key)
        return ledger.state if ledger is not None else None

    def position(self, key: PositionKey) -> Position | None:
        ledger = self._positions.get(key)
        return ledger.position if ledger is not None else None

    def orders(self) -> Iterator[OrderState]:
        """Current states of the orders held (evicted ones excluded), in insertion order."""
        for ledger in self._orders.values():
            state = ledger.state
            if state is not None:
                yield state

    def positions(self) -> Iterator[Position]:
        for ledger in self._positions.values():
            yield ledger.position

    @property
    def order_count(self) -> int:
        return len(self._orders)
