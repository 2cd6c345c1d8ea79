"""`StateView`: the latest canonical `OrderState` per order, fed from `orders.state`.

The cancel worker reads `orders.state` from the beginning (it is compacted on a real
cluster; the embedded broker keeps everything) and applies every value here; a state replaces
the one it has only when its `version` is not lower, so redeliveries and replays change
nothing. Planning reads it; the executor waits on `changed()` for confirmations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from pipeline.domain.orders import OrderState

Key = tuple[str, str, str]  # (venue, account, order_id)


class StateView:
    def __init__(self) -> None:
        self._orders: dict[Key, OrderState] = {}
        self._by_id: dict[tuple[str, str], list[Key]] = {}
        self._changed: asyncio.Event | None = None
        self.updates = 0

    def __len__(self) -> int:
        return len(self._orders)

    def apply(self, state: OrderState) -> bool:
        """Keep `state` if it is not older than what we have; True when it was kept."""
        key = state.key
        current = self._orders.get(key)
        if current is not None and current.version > state.version:
            return False
        self._orders[key] = state
        if current is None:
            self._by_id.setdefault((state.venue, state.order_id), []).append(key)
        self.updates += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return True

    def apply_all(self, states: Iterable[OrderState]) -> None:
        for state in states:
            self.apply(state)

    def get(self, venue: str, order_id: str, account: str | None = None) -> OrderState | None:
        """The order `order_id` on `venue` (in `account` when given; None if ambiguous)."""
        keys = self._by_id.get((venue, order_id), [])
        found = [self._orders[k] for k in keys if account is None or k[1] == account]
        return found[0] if len(found) == 1 else None

    def orders(
        self, venue: str, account: str | None = None, venue_symbol: str | None = None
    ) -> Iterator[OrderState]:
        for (v, acct, _), state in self._orders.items():
            if (
                v == venue
                and (account is None or acct == account)
                and (venue_symbol is None or state.venue_symbol == venue_symbol)
            ):
                yield state

    def poke(self) -> None:
        """Wake the `changed()` waiters without a state change (a venue refusal arrived)."""
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def changed(self, timeout: float) -> bool:
        """Wait until some state changes (True) or `timeout` seconds pass (False)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True
