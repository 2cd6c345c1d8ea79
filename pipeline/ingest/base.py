"""What every ingestor shares: the reconnect loop, filing messages, and gap recovery.

An `Ingestor` owns one venue account. `run(stop)` calls `session()` (one connection: connect,
authenticate, subscribe, snapshot, stream) again and again, with exponential backoff and
jitter between attempts, until `stop` is set. Every message read goes through `file()`:
parsed (unparseable -> `pipeline.dlq` with the reason), keyed by the symbol it carries
(none -> not published, counted as `unkeyed`), observed (to know which orders are live) and
published unmodified in the raw envelope.

Gap recovery: after every (re)connect the subclass fetches the open orders per symbol; the
orders known to be live before the gap that are missing from that snapshot have finished
meanwhile, so `recover()` queries each of them (the venue's order-status call), and that
reply is filed too. `LiveOrders` remembers what is live from everything observed.

Orders that start *and* finish inside a gap are in no open-orders snapshot and were never
live here: after the snapshot the subclass also asks the venue's order history for what
happened since `history_since()` (the last message heard, less `HISTORY_MARGIN_MS`; the
ingestor's start before anything was heard) where the venue has one (Upbit
`/v1/orders/closed`, Binance `allOrders`, the futures gateway's `order_history`, Coinone's
trades), and files the orders `LiveOrders` never heard of (`knows()`).

`RestPoller` is the base of venues without a private stream (Coinone, SSI, the futures
gateway): each poll is a snapshot, so the same recovery applies between polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import aiohttp
import orjson

from pipeline.envelope import RawEnvelope
from pipeline.errors import PipelineError
from pipeline.ingest.config import AccountConfig
from pipeline.ingest.publisher import RawPublisher, now_ms
from pipeline.ingest.ratelimit import TokenBucket
from pipeline.ingest.stats import IngestStats

log = logging.getLogger(__name__)

UNPARSEABLE = "unparseable_frame"
# history queries start this long before the last message heard: an order created just
# before a connection died may have had its first report in flight (and clocks differ)
HISTORY_MARGIN_MS = 5_000


class SessionError(PipelineError):
    """A session cannot go on (closed by the venue, auth refused, request failed)."""


class LiveOrders:
    """The account's orders known to be live (id -> symbol), from every message observed.

    A terminal report wins over a late live one (reordered frames), so finished orders are
    remembered (bounded) and never re-enter the live set.
    """

    def __init__(self, closed_memory: int = 100_000) -> None:
        self.live: dict[str, str] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._memory = closed_memory

    def seen(self, order_id: str, symbol: str, live: bool) -> None:
        if live:
            if order_id not in self._closed:
                self.live[order_id] = symbol
            return
        self.forget(order_id)
        self._closed[order_id] = None
        if len(self._closed) > self._memory:
            self._closed.popitem(last=False)

    def forget(self, order_id: str) -> None:
        self.live.pop(order_id, None)

    def knows(self, order_id: str) -> bool:
        """Heard of: live now, or seen finishing (within the bounded memory)."""
        return order_id in self.live or order_id in self._closed

    def missing_from(self, symbol: str, open_ids: Iterable[str]) -> list[str]:
        """Orders of `symbol` believed live that a fresh open-orders snapshot does not list."""
        listed = set(open_ids)
        return [i for i, s in self.live.items() if s == symbol and i not in listed]


async def wait_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` unless `stop` is set first; True if stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def supervise(stop: asyncio.Event, *tasks: asyncio.Task[Any]) -> None:
    """Wait until `stop` or until a task ends; a task's error (or its end) ends the session."""
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if stop.is_set():
        return
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    raise SessionError("connection closed by the venue")


async def cancel_tasks(*tasks: asyncio.Task[Any] | None) -> None:
    for task in tasks:
        if task is not None and not task.done():
            task.cancel()
    for task in tasks:
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class Ingestor(ABC):
    """One venue account: connect, snapshot, stream, reconnect; file every message."""

    venue: ClassVar[str]

    def __init__(
        self,
        config: AccountConfig,
        publisher: RawPublisher,
        stats: IngestStats,
        resume_from: int | None = None,
        live_orders: Mapping[str, str] | None = None,
    ) -> None:
        if config.venue != self.venue:
            raise ValueError(f"{type(self).__name__} serves {self.venue}, not {config.venue}")
        self.config = config
        self.account = config.account
        self.credentials = config.require_credentials()
        self.publisher = publisher
        self.counters = stats.venue(self.venue)
        self.live = LiveOrders()
        # orders believed live when what was published may be lost (`resume_from`): the
        # first snapshot asks about each one the venue no longer lists as open
        for order_id, symbol in (live_orders or {}).items():
            self.live.live[self.live_key(order_id, symbol)] = symbol
        self._random = random.Random()
        # received_at of the last message published; at the start: now, or `resume_from`
        # when what was published before may be lost (the embedded broker keeps nothing across
        # a restart), so that the first connect's gap recovery fetches it again
        started = now_ms()
        self.heard_at = started if resume_from is None else min(started, resume_from)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.name})"

    # -- what a venue implements ----------------------------------------------------------

    @abstractmethod
    async def session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """One connection, until it is lost (raise or return) or `stop` is set."""

    @abstractmethod
    def symbol_of(self, payload: Any) -> str | None:
        """The venue symbol a message is about (None: it is about no order)."""

    def live_key(self, order_id: str, symbol: str) -> str:
        """The key `self.live` files an order under: its id (a venue whose ids are unique
        per symbol only says otherwise)."""
        return order_id

    def observe(self, channel: str, payload: Any) -> None:  # noqa: B027 - optional hook
        """Update `self.live` from a parsed message (optional)."""

    def history_since(self) -> int:
        """Epoch ms from which a venue's order history covers what this ingestor may have
        missed: the last message heard (the start if none), less `HISTORY_MARGIN_MS`."""
        return self.heard_at - HISTORY_MARGIN_MS

    # -- the reconnect loop ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        backoff = self.config.backoff
        loop = asyncio.get_running_loop()
        attempt = 0
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not stop.is_set():
                started = loop.time()
                try:
                    await self.session(http, stop)
                    reason = "session ended"
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure of one session means: reconnect
                    reason = f"{type(exc).__name__}: {exc}"
                if stop.is_set():
                    return
                self.counters.reconnects += 1
                if loop.time() - started >= backoff.stable_after:
                    attempt = 0
                delay = backoff.delay(attempt, self._random.random())
                attempt += 1
                log.warning("%s: %s; reconnecting in %.2fs", self.config.name, reason, delay)
                if await wait_stop(stop, delay):
                    return

    # -- filing messages ------------------------------------------------------------------

    async def file(
        self,
        channel: str,
        raw: bytes | str,
        request_symbol: str | None = None,
        received_at: int | None = None,
    ) -> Any:
        """Parse, key, observe and publish one message; the parsed payload (None if not)."""
        received_at = now_ms() if received_at is None else received_at
        self.counters.received += 1
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.counters.dead_letters += 1
            await self.publisher.dead_letter(
                self.venue, self.account, channel, raw, UNPARSEABLE, f"not JSON: {exc}"
            )
            return None
        await self.publish(channel, payload, request_symbol, received_at)
        return payload

    async def publish(
        self, channel: str, payload: Any, request_symbol: str | None, received_at: int
    ) -> bool:
        """Publish a parsed message keyed by its symbol (the request's, when it names one)."""
        symbol = self.symbol_of(payload)
        if symbol is None:
            self.counters.unkeyed += 1
            return False
        self.observe(channel, payload)
        self.heard_at = max(self.heard_at, received_at)
        envelope = RawEnvelope(self.venue, self.account, channel, received_at, payload)
        await self.publisher.publish(envelope, request_symbol or symbol)
        return True

    # -- gap recovery ---------------------------------------------------------------------

    async def recover(
        self,
        symbol: str,
        open_ids: Iterable[str],
        query: Callable[[str, str], Awaitable[bool]],
    ) -> int:
        """Query every order of `symbol` that was live but is no longer open (`query(order_id,
        symbol)` files the reply, False when the venue no longer knows the order)."""
        missing = self.live.missing_from(symbol, open_ids)
        for order_id in missing:
            self.counters.recovered_orders += 1
            if not await query(order_id, symbol):
                self.live.forget(order_id)
        return len(missing)


class RestPoller(Ingestor):
    """Base of REST-polled venues: log in (optional), then poll every `poll_interval` s.

    A subclass implements `poll()`: fetch the open orders per symbol (file each reply and
    call `recover()` with the ids it listed, passing a detail query) and, where the venue
    has one, the recent fills. Replies identical to the previous one of the same channel and
    symbol in this session are not published again (`file_changed`): they carry nothing
    new and would only grow the raw topic; the first reply after every (re)connect always is.

    Every request first takes a token from the account's `bucket` (`throttle()`): at most
    `rate_limit` requests per second (config; default the class's `default_rate_limit`, a
    safe share of the venue's limit), bursts of `rate_burst`.
    """

    default_rate_limit: ClassVar[float] = 5.0
    default_rate_burst: ClassVar[float] = 5.0

    def __init__(
        self,
        config: AccountConfig,
        publisher: RawPublisher,
        stats: IngestStats,
        resume_from: int | None = None,
        live_orders: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, publisher, stats, resume_from, live_orders)
        self.bucket = TokenBucket(
            config.rate_limit or self.default_rate_limit,
            max(1.0, config.rate_burst or self.default_rate_burst),
        )
        self._last: dict[tuple[str, str], bytes] = {}

    async def throttle(self) -> None:
        """Wait for the account's rate limiter before a REST request; count both."""
        before = self.bucket.waited
        await self.bucket.acquire()
        counters = self.counters
        counters.rest_requests += 1
        waited = self.bucket.waited - before
        if waited > 0:
            counters.rate_limit_waits += 1
            counters.rate_limit_wait_seconds += waited

    async def login(self, http: aiohttp.ClientSession) -> None:
        """Obtain a session token where the venue needs one (SSI); called per session."""

    @abstractmethod
    async def poll(self, http: aiohttp.ClientSession) -> None:
        """One round of requests: a snapshot of the account's orders."""

    async def session(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        self._last = {}
        await self.login(http)
        await self.poll(http)
        self.counters.snapshots += 1
        self.counters.connects += 1
        await self.poll_forever(http, stop)

    async def poll_forever(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Poll every `poll_interval` seconds until `stop` (a failed poll raises)."""
        while not await wait_stop(stop, self.config.poll_interval):
            await self.poll(http)
            self.counters.snapshots += 1

    async def file_changed(
        self, channel: str, raw: bytes, symbol: str, source: str | None = None
    ) -> Any:
        """`file()` unless `raw` equals the last reply of (source, symbol); the payload.
        `source` (default: the channel) names the request when two share a channel."""
        key = (source or channel, symbol)
        if self._last.get(key) == raw:
            return orjson.loads(raw)
        payload = await self.file(channel, raw, symbol)
        if payload is not None:
            self._last[key] = raw
        return payload


def oldest_executed(orders: Iterable[dict[str, Any]], created: str, executed: str) -> int | None:
    """The creation time (field `created`, epoch ms) of the oldest of `orders` whose
    cumulative executed quantity (field `executed`) is above zero, if any.

    An ingestor's first start finds such orders partly filled: the snapshot's cumulative
    quantity derives fills, and the order's first trade voids them, so the trades fetched at
    that start must reach back to this time, or the earlier executions would be lost.
    """
    times = []
    for order in orders:
        when = order.get(created)
        try:
            traded = Decimal(str(order.get(executed) or 0)) > 0
        except InvalidOperation:
            traded = False  # the normalizer reports the malformed field
        if traded and isinstance(when, int) and not isinstance(when, bool):
            times.append(when)
    return min(times, default=None)
