"""Positions and PnL at average cost, folded from the set of fills of one (venue, account, symbol).

Average cost, signed (the Upbit seed's calculator, extended to shorts and flips):

- a fill on the side of the position, or on a flat one, adds at the weighted average price;
- a reducing fill realizes `(price - avg) * closed_qty * sign(position)`, avg unchanged;
- a fill crossing zero closes the old position (realizing on all of it) and opens the
  remainder at the fill price;
- realized PnL (quote currency) excludes fees; fees are summed per asset beside it (a fill
  without `fee_asset` is charged in the symbol's quote currency).

The result depends only on the SET of fills, folded in `(trade_time, trade_id, order_id)`
order. A fill is identified by `(order_id, trade_id)`: a self-trade reports one trade id on
both of its orders, and those are two executions, not a duplicate. The same fill again changes
nothing; a fill re-sent with other content (a revised derived fill) replaces the old one; a
fill with `qty == 0` voids it. The position after every `CHECKPOINT_EVERY`-th fill is kept,
so a late fill refolds only from the checkpoint before where it belongs.

`version` grows by one per accepted change (new fill, revision, void) when `apply` is used, so
it ends identical for any arrival order of the same fixed fills. Revisions depend on how the
derived fills were discovered, so `TradingBook` stamps its own arrival-independent version
through `apply_batch` / `apply_one` (see book.py). `compact` bounds memory for long-lived
positions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pipeline.domain.errors import ForeignEventError, InvalidQuantityError
from pipeline.domain.events import Fill, Side
from pipeline.domain.ledger import fill_signature

_ZERO = Decimal(0)
_BUY = Side.BUY
FillSortKey = tuple[int, str, str]  # (trade_time, trade_id, order_id)
#: Keep the folded position after every this many fills (and after the last one).
CHECKPOINT_EVERY = 32


@dataclass(slots=True)
class Position:
    """Net position of one (venue, account, symbol): the `positions.state` wire format."""

    venue: str
    account: str
    symbol: str
    qty: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    fees: dict[str, Decimal]
    fill_count: int
    updated_at: int
    version: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.venue, self.account, self.symbol)


def fold_fill(prev: Position, fill: Fill, version: int) -> Position:
    """The position after one more fill (in sort order); `prev` is not modified."""
    qty, avg, realized = prev.qty, prev.avg_price, prev.realized_pnl
    size, price = fill.qty, fill.price
    signed = size if fill.side is _BUY else -size
    new_qty = qty + signed
    if qty == 0 or (qty > 0) == (signed > 0):
        avg = (avg * abs(qty) + price * size) / abs(new_qty)
    elif size <= abs(qty):
        realized += (price - avg) * size if qty > 0 else (avg - price) * size
        if new_qty == 0:
            avg = _ZERO
    else:
        realized += (price - avg) * qty  # the whole old position, sign included
        avg = price
    fees = prev.fees
    if fill.fee:
        asset = fill.fee_asset or fill.symbol.rpartition("/")[2]
        fees = dict(fees)
        fees[asset] = fees.get(asset, _ZERO) + fill.fee
    return Position(
        prev.venue,
        prev.account,
        prev.symbol,
        new_qty,
        avg,
        realized,
        fees,
        prev.fill_count + 1,
        fill.trade_time,
        version,
    )


class PositionLedger:
    """The distinct fills of one position, kept sorted, and the positions they fold into."""

    __slots__ = (
        "_base",
        "_by_id",
        "_compacted",
        "_current",
        "_dirty",
        "_fills",
        "_horizon",
        "_keys",
        "_states",
        "key",
        "late_fills",
        "version",
    )

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key
        self.version = 0
        self.late_fills = 0  # fills older than the compaction horizon (applied at its edge)
        self._base = Position(key[0], key[1], key[2], _ZERO, _ZERO, _ZERO, {}, 0, 0, 0)
        self._current = self._base
        self._keys: list[FillSortKey] = []
        self._fills: list[Fill] = []
        self._states: list[Position | None] = []  # sparse: checkpoints and the last
        self._by_id: dict[tuple[str, str], Fill] = {}  # (order_id, trade_id) -> fill
        self._compacted: set[tuple[str, str]] = set()
        self._horizon: FillSortKey | None = None
        self._dirty = 0

    @property
    def position(self) -> Position:
        return self._current

    def apply(self, fill: Fill) -> Position | None:
        """Add, revise or void one fill; the new position, or `None` if nothing changed."""
        if not self._change(fill):
            return None
        return self._commit(self.version + 1)

    def apply_batch(self, fills: Iterable[Fill], version: int) -> Position:
        """Apply `fills` and stamp the result with the caller's `version` (must grow)."""
        for fill in fills:
            self._change(fill)
        return self._commit(version)

    def apply_one(self, fill: Fill, out: list[Any]) -> None:
        """`out.append(apply_batch([fill], version + 1))`, with a fast path for the common
        case: a new non-zero fill sorting after every fill held, one fold step from the
        current position (`TradingBook` calls this for every ordinary execution)."""
        key = self.key
        qty = fill.qty
        keys = self._keys
        fills = self._fills
        if (
            qty > 0
            and fill.symbol == key[2]
            and fill.account == key[1]
            and fill.venue == key[0]
            and self._dirty == len(fills)
            and not self._compacted
        ):
            sort_key = (fill.trade_time, fill.trade_id, fill.order_id)
            identity = (fill.order_id, fill.trade_id)
            if (not keys or sort_key > keys[-1]) and identity not in self._by_id:
                version = self.version + 1
                position = fold_fill(self._current, fill, version)
                last = len(fills)
                keys.append(sort_key)
                fills.append(fill)
                states = self._states
                states.append(position)
                if last and (last - 1) % CHECKPOINT_EVERY != CHECKPOINT_EVERY - 1:
                    states[last - 1] = None  # the previous last position, no checkpoint
                self._by_id[identity] = fill
                self._dirty = last + 1
                self.version = version
                self._current = position
                out.append(position)
                return
        out.append(self.apply_batch((fill,), self.version + 1))

    def compact(self, before_ms: int) -> int:
        """Fold fills with `trade_time < before_ms` into a base and forget them; return count.

        Their trade ids are kept, so duplicates stay duplicates; a revision of a compacted fill
        is ignored, and a new fill older than the horizon is applied at its edge (counted in
        `late_fills`). Choose a horizon well beyond the lateness you expect.
        """
        self._commit(self.version)
        cut = bisect_left(self._keys, (before_ms, "", ""))
        if cut == 0:
            return 0
        self._base = self._state_at(cut - 1)
        self._horizon = self._keys[cut - 1]
        for fill in self._fills[:cut]:
            identity = (fill.order_id, fill.trade_id)
            self._compacted.add(identity)
            del self._by_id[identity]
        del self._fills[:cut], self._keys[:cut], self._states[:cut]
        self._dirty = len(self._fills)
        return cut

    def _change(self, fill: Fill) -> bool:
        key = self.key
        if fill.symbol != key[2] or fill.account != key[1] or fill.venue != key[0]:
            raise ForeignEventError(f"fill {fill.trade_id} of {fill.position_key} sent to {key}")
        if fill.qty < 0:
            raise InvalidQuantityError(f"fill {fill.trade_id}: qty {fill.qty} is negative")
        trade_id = fill.trade_id
        identity = (fill.order_id, trade_id)
        if identity in self._compacted:
            return False
        old = self._by_id.get(identity)
        if old is not None:
            if fill.qty and fill_signature(old) == fill_signature(fill):
                return False
            index = bisect_left(self._keys, (old.trade_time, trade_id, old.order_id))
            del self._keys[index], self._fills[index], self._states[index]
            del self._by_id[identity]
            self._dirty = min(self._dirty, index)
        if not fill.qty:
            return old is not None
        sort_key = (fill.trade_time, trade_id, fill.order_id)
        keys = self._keys
        if not keys or sort_key > keys[-1]:
            index = len(keys)
            keys.append(sort_key)
            self._fills.append(fill)
            self._states.append(None)
        else:
            index = bisect_right(keys, sort_key)
            keys.insert(index, sort_key)
            self._fills.insert(index, fill)
            self._states.insert(index, None)
            if self._horizon is not None and sort_key < self._horizon:
                self.late_fills += 1
        self._by_id[identity] = fill
        self._dirty = min(self._dirty, index)
        return True

    def _state_at(self, index: int, version: int | None = None) -> Position:
        """The position after `fills[index]`, folded from the nearest checkpoint."""
        states, fills = self._states, self._fills
        restart = index
        while restart >= 0 and states[restart] is None:
            restart -= 1
        position = states[restart] if restart >= 0 else self._base
        stamp = self.version if version is None else version
        for i in range(restart + 1, index + 1):
            position = fold_fill(position, fills[i], stamp)  # type: ignore[arg-type]
        return position  # type: ignore[return-value]

    def _commit(self, version: int) -> Position:
        """Refold from the first changed fill (via the checkpoint before it); stamp `version`.

        Only every `CHECKPOINT_EVERY`-th position (and the last) is kept, so a late fill costs
        at most that many extra steps plus the fills after it.
        """
        states, fills = self._states, self._fills
        last = len(fills) - 1
        restart = min(self._dirty, len(fills)) - 1
        while restart >= 0 and states[restart] is None:
            restart -= 1
        position = states[restart] if restart >= 0 else self._base
        for i in range(restart + 1, last + 1):
            position = fold_fill(position, fills[i], version)  # type: ignore[arg-type]
            keep = i == last or i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1
            states[i] = position if keep else None
        if 0 <= restart < last and restart % CHECKPOINT_EVERY != CHECKPOINT_EVERY - 1:
            states[restart] = None  # the previous last position, no checkpoint
        self._dirty = len(fills)
        assert position is not None
        if position.version != version:
            position = Position(
                position.venue,
                position.account,
                position.symbol,
                position.qty,
                position.avg_price,
                position.realized_pnl,
                position.fees,
                position.fill_count,
                position.updated_at,
                version,
            )
        self.version = version
        self._current = position
        return position
