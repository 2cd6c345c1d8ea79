"""Publishing raw envelopes to Kafka: a bounded queue, batches, retries, never a drop.

Ingestors `await publisher.publish(...)`: when the queue is full the call waits, so a socket
reader stops reading and the venue's TCP window applies the backpressure instead of our
memory. Full means `queue_size` envelopes or `max_queued_bytes` of them, whichever comes
first: envelopes range from a few hundred bytes to megabytes (an SSI order book), and during
a broker outage a count alone let 10,000 order books pile up (gigabytes, found by
`make soak`). The bytes of a batch count until Kafka has taken it.

One task drains the queue in batches; a message whose produce fails is retried
with exponential backoff until Kafka takes it (aiokafka's own retries come first), and a
batch is finished before the next one starts, so per-key order is kept except between the
retried messages of one batch. Only a shutdown that cannot reach Kafka within its deadline
abandons messages, and says how many (`lost`).

Frames that cannot be parsed at all go to `pipeline.dlq` in the dead-letter shape of the
processors (`DeadLetter.to_dict`), with `source_partition = -1` (never on a raw topic) and a
unique, growing `source_offset` (ingest clock, microseconds).

An envelope Kafka refuses for what it is (larger than `MAX_MESSAGE_BYTES`, a record the
broker calls invalid: errors aiokafka marks not retriable) is never retried, which would
stall every venue of the process behind it forever: it becomes a dead letter with the
refusal as its reason and the first `DEAD_LETTER_RAW_BYTES` of the envelope.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.envelope import RawEnvelope, envelope_key
from pipeline.ingest.config import Backoff
from pipeline.ingest.spool import RawSpool
from pipeline.ingest.stats import IngestStats
from pipeline.kafka import DEAD_LETTERS, MAX_MESSAGE_BYTES, raw_topic

log = logging.getLogger(__name__)

_CLOSE = object()
RETRY = Backoff(initial=0.1, maximum=5.0, jitter=0.3)
DEAD_LETTER_RAW_BYTES = 256 * 1024  # of an envelope Kafka refused, what its dead letter keeps


@dataclass(slots=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes
    venue: str
    dead_letter: bool = False


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def frame_text(raw: bytes | str) -> str:
    """A frame as text for a dead letter: UTF-8 when it is, else `base64:` + base64."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()


def default_producer(bootstrap: str) -> Any:
    from aiokafka import AIOKafkaProducer

    # the embedded broker rejects the idempotent producer (PITFALLS §1)
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        acks="all",
        linger_ms=5,
        request_timeout_ms=10_000,
        max_request_size=MAX_MESSAGE_BYTES + 64 * 1024,  # a whole envelope, with its key
    )


class RawPublisher:
    """The one Kafka producer of an ingest process, shared by its ingestors."""

    def __init__(
        self,
        bootstrap: str,
        stats: IngestStats,
        queue_size: int = 10_000,
        max_queued_bytes: int = 64 * 1024 * 1024,
        batch_size: int = 500,
        retry: Backoff = RETRY,
        producer_factory: Callable[[str], Any] = default_producer,
        spool: RawSpool | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.stats = stats
        self.batch_size = batch_size
        self.retry = retry
        self.queue: asyncio.Queue[Outgoing | object] = asyncio.Queue(maxsize=queue_size)
        self.max_queued_bytes = max_queued_bytes
        self.queued_bytes = 0  # of envelopes queued or being sent
        self._room = asyncio.Event()  # set while queued_bytes is under max_queued_bytes
        self._room.set()
        self.lost = 0
        self._factory = producer_factory
        self._producer: Any = None
        self._abandon = asyncio.Event()
        self._last_offset = 0
        self._random = random.Random()
        self.spool = spool  # the embedded stack keeps what it publishes (spool.py)

    # -- what ingestors call --------------------------------------------------------------

    async def publish(self, envelope: RawEnvelope, symbol: str) -> None:
        """Queue one raw envelope for `raw.<venue>`, keyed `venue|account|symbol`."""
        item = Outgoing(
            raw_topic(envelope.venue),
            envelope_key(envelope.venue, envelope.account, symbol),
            envelope.encode(),
            envelope.venue,
        )
        if self.spool is not None:
            self.spool.append(item.topic, item.key, item.value, envelope.received_at)
        await self._enqueue(item)
        self.stats.queue_depth = self.queue.qsize()

    async def dead_letter(
        self, venue: str, account: str, channel: str, raw: bytes | str, reason: str, detail: str
    ) -> None:
        """Queue a dead letter for a message that cannot be parsed (nothing is dropped)."""
        await self._enqueue(self._dead_letter_item(venue, account, channel, raw, reason, detail))

    async def _enqueue(self, item: Outgoing) -> None:
        """Queue `item` once there is room for its bytes (there always is in an empty queue)."""
        while self.queued_bytes >= self.max_queued_bytes:
            self._room.clear()
            await self._room.wait()
        self.queued_bytes += len(item.value)
        await self.queue.put(item)

    def _taken(self, batch: list[Outgoing]) -> None:
        """`batch` is in Kafka (or given up): its bytes leave the budget."""
        self.queued_bytes -= sum(len(item.value) for item in batch)
        if self.queued_bytes < self.max_queued_bytes:
            self._room.set()

    def _dead_letter_item(
        self, venue: str, account: str, channel: str, raw: bytes | str, reason: str, detail: str
    ) -> Outgoing:
        failed_at = now_ms()
        offset = max(time.time_ns() // 1000, self._last_offset + 1)
        self._last_offset = offset
        value = {
            "source_topic": raw_topic(venue),
            "source_partition": -1,
            "source_offset": offset,
            "venue": venue,
            "reason": reason,
            "detail": f"{account} {channel}: {detail}",
            "raw_key": f"{venue}|{account}|",
            "raw_value": frame_text(raw),
            "failed_at": failed_at,
        }
        return Outgoing(
            DEAD_LETTERS, f"{venue}|{account}|".encode(), orjson.dumps(value), venue, True
        )

    # -- the sending task -----------------------------------------------------------------

    async def run(self) -> None:
        """Send until `close()`; everything queued before it is sent first."""
        try:
            while True:
                item = await self.queue.get()
                if item is _CLOSE:
                    return
                batch: list[Outgoing] = [item]  # type: ignore[list-item]
                closing = False
                while len(batch) < self.batch_size and not self.queue.empty():
                    more = self.queue.get_nowait()
                    if more is _CLOSE:
                        closing = True
                        break
                    batch.append(more)  # type: ignore[arg-type]
                self.stats.queue_depth = self.queue.qsize()
                try:
                    await self._send(batch)
                finally:
                    self._taken(batch)
                if closing:
                    return
        finally:
            await self._stop_producer()

    async def close(self) -> None:
        """Ask `run()` to flush what is queued and return (see `abandon` for a deadline)."""
        await self.queue.put(_CLOSE)

    def abandon(self) -> None:
        """Give up retrying (shutdown deadline passed); unsent messages are counted as lost."""
        self._abandon.set()

    async def _producer_ready(self) -> Any:
        if self._producer is None:
            producer = self._factory(self.bootstrap)
            try:
                await producer.start()
            except Exception:
                await _quietly(producer.stop())
                raise
            self._producer = producer
        return self._producer

    async def _stop_producer(self) -> None:
        if self._producer is not None:
            await _quietly(self._producer.stop())
            self._producer = None

    async def _send(self, batch: list[Outgoing]) -> None:
        pending = batch
        attempt = 0
        while pending:
            failures: list[tuple[Outgoing, BaseException]] = []
            try:
                producer = await self._producer_ready()
                futures = []
                for item in pending:
                    try:
                        futures.append(await producer.send(item.topic, item.value, key=item.key))
                    except Exception as exc:  # metadata timeout, buffer full: retry it
                        futures.append(_failed(exc))
                results = await asyncio.gather(*futures, return_exceptions=True)
                for item, result in zip(pending, results, strict=True):
                    if isinstance(result, BaseException):
                        failures.append((item, result))
                    elif not item.dead_letter:
                        self.stats.venue(item.venue).published += 1
            except Exception as exc:  # the producer could not start (broker unreachable)
                failures = [(item, exc) for item in pending]
            failures = self._refused(failures)
            if not failures:
                return
            pending = [item for item, _ in failures]
            for item in pending:
                self.stats.venue(item.venue).produce_retries += 1
            error = failures[0][1]
            delay = self.retry.delay(attempt, self._random.random())
            log.warning(
                "produce failed for %d message(s) (%s: %s); retrying in %.2fs",
                len(pending), type(error).__name__, error, delay,
            )  # fmt: skip
            attempt += 1
            try:
                await asyncio.wait_for(self._abandon.wait(), timeout=delay)
            except TimeoutError:
                continue
            self.lost += len(pending)
            log.error("shutdown: %d message(s) could not be produced and are lost", len(pending))
            return

    def _refused(
        self, failures: list[tuple[Outgoing, BaseException]]
    ) -> list[tuple[Outgoing, BaseException]]:
        """What to send again: the failures worth retrying, and a dead letter in place of
        each envelope Kafka refused for what it is (retrying that would never succeed). A
        refused dead letter is logged and counted lost."""
        again = []
        for item, error in failures:
            if getattr(error, "retriable", True) or not _is_kafka_error(error):
                again.append((item, error))
                continue
            reason = f"{type(error).__name__}: {error}"[:500]
            if item.dead_letter:
                self.lost += 1
                log.error("a dead letter of %s was refused by Kafka and is lost: %s",
                          item.venue, reason)  # fmt: skip
                continue
            log.error("Kafka refused a %d-byte envelope of %s for good (%s): dead-lettered",
                      len(item.value), item.venue, reason)  # fmt: skip
            self.stats.venue(item.venue).dead_letters += 1
            parts = item.key.decode(errors="replace").split("|")
            account = parts[1] if len(parts) > 1 else ""
            kept = min(len(item.value), DEAD_LETTER_RAW_BYTES)
            letter = self._dead_letter_item(
                item.venue, account, item.topic, item.value[:DEAD_LETTER_RAW_BYTES],
                "unpublishable", f"{reason}; {len(item.value)} bytes, the first {kept} kept",
            )  # fmt: skip
            again.append((letter, error))
        return again


def _is_kafka_error(error: BaseException) -> bool:
    from aiokafka.errors import KafkaError

    return isinstance(error, KafkaError)


def _failed(exc: BaseException) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception as exc:  # stopping a half-started client may fail; nothing to do
        log.debug("ignoring error while stopping the producer: %s", exc)
