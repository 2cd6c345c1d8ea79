"""Event-time ordering of the canonical log within a lateness window (a watermark).

The watermark of a partition is the greatest event time seen minus the allowed lateness.
Events wait in a heap until the watermark passes them and then leave in event-time order, so
`orders.events` is ordered by venue time within the window. An event already behind the
watermark when it arrives is *late*: it is released at once (never dropped; the order state
and positions are order-insensitive and have applied it correctly anyway) and counted.
An idle partition must not hold its events back forever: `flush()` releases everything, and
the worker calls it when a partition has been quiet for the idle timeout (PITFALLS §16).
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

T = TypeVar("T")

NO_WATERMARK = -(1 << 62)


def _entry_order(entry: tuple[int, str, int, object]) -> tuple[int, str, int]:
    return entry[0], entry[1], entry[2]


class ReorderBuffer(Generic[T]):
    """Holds items keyed by (event_time, tie) until the watermark passes them."""

    __slots__ = ("_counter", "_heap", "lateness_ms", "max_event_time")

    def __init__(self, lateness_ms: int) -> None:
        if lateness_ms < 0:
            raise ValueError(f"lateness_ms must be >= 0, got {lateness_ms}")
        self.lateness_ms = lateness_ms
        self.max_event_time = NO_WATERMARK
        self._heap: list[tuple[int, str, int, T]] = []
        self._counter = 0

    @property
    def watermark(self) -> int:
        if self.max_event_time == NO_WATERMARK:
            return NO_WATERMARK
        return self.max_event_time - self.lateness_ms

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, event_time: int, tie: str, item: T) -> bool:
        """Add an item; return True if it is late (already behind the watermark).

        A late item is not buffered: the caller emits it at once.
        """
        if event_time < self.watermark:
            return True
        if event_time > self.max_event_time:
            self.max_event_time = event_time
        self._counter += 1
        heapq.heappush(self._heap, (event_time, tie, self._counter, item))
        return False

    def export(self) -> tuple[int, int, list[tuple[int, str, int, T]]]:
        """(max event time, counter, every held entry in release order): a checkpoint's part."""
        return self.max_event_time, self._counter, sorted(self._heap, key=_entry_order)

    def restore(
        self, max_event_time: int, counter: int, entries: list[tuple[int, str, int, T]]
    ) -> None:
        """Hold exactly what `export` gave (a list in release order is a valid heap)."""
        self.max_event_time = max_event_time
        self._counter = counter
        self._heap = sorted(entries, key=_entry_order)

    def drain(self) -> list[T]:
        """Release, in event-time order, every item the watermark has passed."""
        watermark = self.watermark
        heap = self._heap
        out: list[T] = []
        while heap and heap[0][0] <= watermark:
            out.append(heapq.heappop(heap)[3])
        return out

    def flush(self) -> list[T]:
        """Release everything held, in event-time order (idle partition, shutdown)."""
        heap = self._heap
        return [heapq.heappop(heap)[3] for _ in range(len(heap))]
