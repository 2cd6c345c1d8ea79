"""Clocks for the simulator: epoch milliseconds, passed into the engine, never read inside it.

`WallClock` serves live runs; `ManualClock` makes tests and seeded replays exact.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> int: ...


class WallClock:
    """Wall time in epoch ms that never goes backwards (NTP steps are absorbed)."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        now = time.time_ns() // 1_000_000
        if now < self._last:
            return self._last
        self._last = now
        return now


class ManualClock:
    """A clock that moves only when told to; `step_ms` > 0 advances it on every read."""

    def __init__(self, start_ms: int = 1_767_225_600_000, step_ms: int = 0) -> None:
        self.now = start_ms
        self.step_ms = step_ms

    def __call__(self) -> int:
        current = self.now
        self.now += self.step_ms
        return current

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now
