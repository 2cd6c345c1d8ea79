"""A token bucket per venue account: REST pollers stay under the venue's request limits.

`TokenBucket(rate, burst)` holds at most `burst` tokens and gains `rate` per second;
`await bucket.acquire()` takes one, waiting as long as needed. Venues count requests in
sliding windows (Coinone 80/s, SSI 20/s per consumer, the gateway 1,200 per 60 s per
exchange); a bucket whose rate is a share of that limit can never exceed it, and the share
left over serves the cancel executors that use the same keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """At most `burst` requests at once, `rate` per second sustained."""

    def __init__(
        self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds spent waiting for tokens (for tests and metrics)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def try_acquire(self) -> bool:
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take one token, waiting for it if the bucket is empty (callers queue in order)."""
        async with self._lock:
            while not self.try_acquire():
                delay = (1 - self._tokens) / self.rate
                self.waited += delay
                await asyncio.sleep(delay)
