"""How the processing loops use Python's garbage collector.

The fold keeps a lot of small, long-lived objects (one ledger per live order, its events
and states, one per position). CPython's cyclic collector rescans survivors again and again:
with the default thresholds it costs ~40% of the fold, and even with a large young
generation ~10% (BENCHMARKS.md). None of that state forms reference cycles (it is freed by
reference counting when an order is evicted), so after each batch the survivors are moved to
the permanent generation (`gc.freeze()`), where the collector never looks. Cycles created
elsewhere (asyncio tasks, exception tracebacks) must still be collected: before each freeze
the youngest generation is collected (~1 ms; the older young generation too would cost
40-100 ms per 5,000-record batch and found nothing in the bench flow), so the most recent
garbage cycles are not frozen; the others wait for the full collection, which runs every
`full_every_s` (an hour): everything unfrozen, one pause that grows with the heap (~0.8-2 s
with 60k orders held, BENCHMARKS.md). It ran every minute until issue 12 measured that pause
as the longest block of the process worker's event loop.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator

#: Young-generation threshold: allocations between two young collections (default 700).
YOUNG_THRESHOLD = 10_000


class GcPolicy:
    """Call `start()` once, then `after_batch()` after every processed batch."""

    def __init__(
        self, full_every_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if full_every_s <= 0:
            raise ValueError(f"full_every_s must be positive, got {full_every_s!r}")
        self.full_every_s = full_every_s
        self._clock = clock
        self._last_full = clock()
        self.full_collections = 0

    def start(self) -> None:
        """Collect the young generation less often (process-wide, so set by the loop)."""
        gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
        self._last_full = self._clock()

    def after_batch(self) -> None:
        """Collect the batch's garbage cycles and freeze what survived it; unfreeze and
        collect fully every `full_every_s`."""
        now = self._clock()
        if now - self._last_full >= self.full_every_s:
            self._last_full = now
            gc.unfreeze()
            gc.collect()
            self.full_collections += 1
        else:
            gc.collect(0)  # the youngest generation: the batch's latest garbage cycles
        gc.freeze()


_pause_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside: for building a large, long-lived, acyclic structure at
    once (a checkpoint's restore: the collector would rescan the decoded body and the objects
    built from it over and over, ~half of the time). Nests and may be entered from several
    threads at once: the collector is enabled again (if it was) when the last one leaves."""
    global _pauses, _was_enabled
    with _pause_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
