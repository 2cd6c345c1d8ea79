"""Request budgets per venue, account and endpoint group, shared by every command.

Venues count requests in sliding windows (the gateway: 10 cancel_all per 60 s; Upbit's
cancel-all: 1 per 2 s), so the limiter keeps the same log of request times rather than a
classic token bucket: a bucket refilled at 10/60 s would allow an 11th request 6 s after a
burst of 10, which the venue's 60 s window refuses. `available` feeds the planner (how many
scope requests can go now), `try_acquire` takes one without waiting, `acquire` waits for
one, and `penalize` honours a venue's 429 wait. Time comes from an injected clock (ms).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from pipeline.commands.capabilities import Window
from pipeline.errors import PipelineError

Clock = Callable[[], int]


class BudgetUnavailable(PipelineError, TimeoutError):
    """No request slot within the wait allowed (a long 429 penalty): nothing was sent."""


class RateLimiter:
    def __init__(
        self,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._hits: dict[tuple[str, str, str], deque[int]] = {}
        self._blocked_until: dict[tuple[str, str, str], int] = {}

    def _window(self, key: tuple[str, str, str], window: Window, now: int) -> deque[int]:
        hits = self._hits.setdefault(key, deque())
        horizon = now - window.window_ms
        while hits and hits[0] <= horizon:
            hits.popleft()
        return hits

    def available(self, venue: str, group: str, account: str, window: Window) -> int:
        key, now = (venue, group, account), self.clock()
        if self._blocked_until.get(key, 0) > now:
            return 0
        return max(0, window.count - len(self._window(key, window, now)))

    def wait_ms(self, venue: str, group: str, account: str, window: Window) -> int:
        key, now = (venue, group, account), self.clock()
        blocked = max(0, self._blocked_until.get(key, 0) - now)
        hits = self._window(key, window, now)
        if len(hits) < window.count:
            return blocked
        return max(blocked, hits[0] + window.window_ms - now + 1)

    def try_acquire(self, venue: str, group: str, account: str, window: Window) -> bool:
        if self.available(venue, group, account, window) <= 0:
            return False
        self._hits[(venue, group, account)].append(self.clock())
        return True

    async def acquire(
        self, venue: str, group: str, account: str, window: Window, max_wait_s: float = 120.0
    ) -> None:
        """Take one request slot, waiting for it; `BudgetUnavailable` after `max_wait_s`."""
        waited = 0.0
        while not self.try_acquire(venue, group, account, window):
            delay = max(0.005, self.wait_ms(venue, group, account, window) / 1000)
            if waited + delay > max_wait_s:
                raise BudgetUnavailable(f"{venue} {group} budget unavailable for {max_wait_s:g}s")
            await self.sleep(delay)
            waited += delay

    def penalize(self, venue: str, group: str, account: str, retry_after_ms: int) -> None:
        """The venue said 429: no request of this group before `retry_after_ms` from now."""
        key = (venue, group, account)
        until = self.clock() + max(0, retry_after_ms)
        self._blocked_until[key] = max(self._blocked_until.get(key, 0), until)
