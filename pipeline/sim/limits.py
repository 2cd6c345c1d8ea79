"""Sliding-window rate limits, as venues count them (per account or key, per group).

Time comes from the caller (the simulator clock), so tests can step through a window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` requests per `window_ms`."""

    count: int
    window_ms: int


class RateLimiter:
    """Counts requests per key in sliding windows; one limiter per venue."""

    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits
        self._hits: dict[tuple[str, str], deque[int]] = {}

    def _window(self, group: str, key: str, now: int) -> deque[int]:
        hits = self._hits.setdefault((group, key), deque())
        horizon = now - self.limits[group].window_ms
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits

    def allow(self, group: str, key: str, now: int, cost: int = 1) -> bool:
        """Count a request of `cost` units if the window has room; False (not counted) if not."""
        hits = self._window(group, key, now)
        if len(hits) + cost > self.limits[group].count:
            return False
        hits.extend([now] * cost)
        return True

    def used(self, group: str, key: str, now: int) -> int:
        return len(self._window(group, key, now))

    def remaining(self, group: str, key: str, now: int) -> int:
        return max(0, self.limits[group].count - self.used(group, key, now))

    def retry_after_ms(self, group: str, key: str, now: int) -> int:
        hits = self._window(group, key, now)
        if len(hits) < self.limits[group].count:
            return 0
        return hits[0] + self.limits[group].window_ms - now
