"""Ingest counters, ready to be exported as metrics (labels: venue; low cardinality).

`IngestStats.venue(name)` returns that venue's `VenueStats`, created on first use; the
ingestors and the publisher only ever add to them. `snapshot()` is a plain dict for status
lines, tests and a Prometheus collector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class VenueStats:
    """What happened on one venue (all accounts)."""

    received: int = 0  # venue messages read off the wire (frames, replies)
    published: int = 0  # raw envelopes acknowledged by Kafka
    unkeyed: int = 0  # messages without a symbol (keep-alive replies, balances): not published
    dead_letters: int = 0  # unparseable messages sent to pipeline.dlq
    connects: int = 0  # sessions established (authenticated and subscribed)
    reconnects: int = 0  # sessions lost or failed, each followed by a reconnect
    snapshots: int = 0  # open-order snapshots fetched (after every (re)connect, every poll)
    recovered_orders: int = 0  # orders queried because they left the open set during a gap
    produce_retries: int = 0  # messages whose produce failed and was retried
    errors: int = 0  # venue error replies and failed requests
    rest_requests: int = 0  # REST requests of pollers (each passes the account's rate limiter)
    rate_limit_waits: int = 0  # of those, how many had to wait for the rate limiter
    rate_limit_wait_seconds: float = 0.0  # and how long they waited in all


@dataclass
class IngestStats:
    """Counters of every ingestor of one process, per venue."""

    venues: dict[str, VenueStats] = field(default_factory=dict)
    queue_depth: int = 0  # messages waiting for Kafka

    def venue(self, name: str) -> VenueStats:
        found = self.venues.get(name)
        if found is None:
            found = self.venues[name] = VenueStats()
        return found

    def total(self, counter: str) -> int:
        return sum(getattr(v, counter) for v in self.venues.values())

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {name: asdict(stats) for name, stats in sorted(self.venues.items())}

    def summary(self) -> str:
        """One status line: `upbit published 120 reconnects 1 ...; binance ...`."""
        parts = []
        for name, s in sorted(self.venues.items()):
            parts.append(
                f"{name} published {s.published}, reconnects {s.reconnects}, snapshots "
                f"{s.snapshots}, dead letters {s.dead_letters}, produce retries "
                f"{s.produce_retries}"
            )
        return "; ".join(parts) + (f"; queued {self.queue_depth}" if self.queue_depth else "")
