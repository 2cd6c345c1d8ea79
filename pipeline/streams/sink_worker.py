"""The sink role: output topics -> ClickHouse, offsets committed only after durable writes.

With chDB one process owns the store (DESIGN §2), so the sink runs in one process while
processing scales out. Each poll (and what else arrives within `linger_ms`, 200 ms: every
insert costs the store a part, so fewer, larger inserts) becomes one insert per table; the
offsets are committed after the store accepted all of them. Records reach the store as their
own JSON bytes, which ClickHouse parses (sink/jsonrows.py; a ClickHouse server gets rows
built here instead). A record the store refuses for its data (a value out of range, not
JSON) is isolated by the writer and sent to the dead-letter topic, the rest of the batch
stored: retrying cannot fix it, and it must not hold every table back. Any other store error
is retried with exponential backoff; the worker does not fetch while it retries, so at most
one batch is held in memory (backpressure instead of unbounded buffering), and the failure
is visible in the stats and the log. Redelivered records are harmless: inserts carry
deduplication tokens from their source offsets and the digest of their values
(`source_range`), and every table replaces by key and version.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.config import Settings
from pipeline.errors import StoreError
from pipeline.sink.store import Store
from pipeline.sink.writer import Rejected, TableWriter, table_batches
from pipeline.streams.outputs import OUTPUT_TOPICS, TOPIC_TABLES
from pipeline.streams.process_worker import FETCH_MAX_WAIT_MS, consumer_lag, consumer_timeouts

log = logging.getLogger(__name__)


def source_range(tp: TopicPartition, first: int, last: int, digest: Any) -> str:
    """Where a batch's rows came from, for its insert deduplication token.

    The offsets alone would repeat on a broker that starts empty (the embedded one always
    does) or a recreated topic: new batches would carry tokens the store has seen and be
    discarded as retries. The digest of the records' values makes the token name the data
    itself: a retried batch (same records) is still recognised, other data never is.
    """
    return f"{tp.topic}:{tp.partition}:{first}-{last}:{digest.hexdigest()}"


@dataclass
class SinkStats:
    records: int = 0
    rows_written: int = 0
    batches: int = 0
    errors: int = 0
    retries: int = 0
    undecodable: int = 0
    rejected: int = 0  # records the store refused for their data
    dead_letters: int = 0  # of those, sent to the dead-letter topic
    last_error: str = ""
    last_batch_seconds: float = 0.0
    last_batch_rows: int = 0
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # fetch high watermark - position


class SinkWorker:
    """Consumes the output topics and writes them to the store."""

    def __init__(
        self,
        bootstrap: str,
        settings: Settings,
        store: Store,
        group_id: str = "pipeline-sink",
        topics: Sequence[str] = OUTPUT_TOPICS,
        max_records: int = 20_000,
        max_wait_ms: int = 500,
        linger_ms: int = 200,
        max_backoff_s: float = 30.0,
        metrics: Any = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.writer = TableWriter(store)
        self.group_id = group_id
        self.topics = tuple(topics)
        self.max_records = max_records
        self.max_wait_ms = max_wait_ms
        self.linger_ms = linger_ms
        self.max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self.metrics = metrics  # a PipelineMetrics, or None
        self._lag_at = 0.0
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: Any = None  # for dead letters, started on the first one

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=3_600_000,  # a long store outage must not evict us
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **consumer_timeouts(self.settings),
        )
        await self._consumer.start()
        try:
            while not stop.is_set():
                await self.step(stop)
        finally:
            try:
                await self._consumer.stop()
            finally:
                if self._producer is not None:
                    await self._producer.stop()

    async def step(self, stop: asyncio.Event) -> None:
        consumer = self._consumer
        assert consumer is not None
        fetched = await self._gather(consumer)
        if time.monotonic() - self._lag_at >= 1.0:
            self._lag_at = time.monotonic()
            self.stats.lag = await consumer_lag(consumer)
        if not fetched:
            return
        per_table: dict[str, list[bytes]] = defaultdict(list)
        positions: dict[str, list[Any]] = defaultdict(list)  # per table: each record
        sources: dict[str, list[str]] = defaultdict(list)
        commits: dict[TopicPartition, int] = {}
        for tp, records in fetched.items():
            table = TOPIC_TABLES[tp.topic]
            values = per_table[table]
            digest = hashlib.blake2b(digest_size=8)
            for record in records:
                value = record.value or b""
                digest.update(value)
                values.append(value)
            positions[table] += records
            sources[table].append(source_range(tp, records[0].offset, records[-1].offset, digest))
            commits[tp] = records[-1].offset + 1
            self.stats.records += len(records)
        batches = table_batches(per_table, sources, raw=True)
        events = _sample(per_table.get("order_events", [])) if self.metrics is not None else []
        await self._write_with_retry(batches, stop, events)
        if self.writer.rejected:
            await self._dead_letter(self.writer.rejected, positions)
        await consumer.commit(commits)

    async def _gather(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Any]]:
        """One poll, then more for up to `linger_ms` or `max_records` records.

        Every insert makes a part in each table: ~11-15 ms of the store's CPU however few
        its rows (chDB, measured in BENCHMARKS.md), against ~5 µs a row. A sink writing each
        small poll at once spends its core on parts; lingering a little turns many small
        inserts into few larger ones, for at most `linger_ms` more latency.
        """
        fetched = await consumer.getmany(timeout_ms=self.max_wait_ms, max_records=self.max_records)
        if not fetched or self.linger_ms <= 0:
            return fetched
        count = sum(len(records) for records in fetched.values())
        deadline = time.monotonic() + self.linger_ms / 1000
        while count < self.max_records:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await consumer.getmany(
                timeout_ms=int(left * 1000) + 1, max_records=self.max_records - count
            )
            for tp, records in more.items():
                fetched.setdefault(tp, []).extend(records)
                count += len(records)
        return fetched

    async def _dead_letter(self, rejected: list[Rejected], positions: dict[str, list[Any]]) -> None:
        """Records the store refused for their data: to the dead-letter topic (which this
        sink stores in turn), acknowledged before the batch's offsets are committed. A dead
        letter the store refuses cannot be dead-lettered again: it is logged and counted."""
        from aiokafka import AIOKafkaProducer

        from pipeline.kafka import DEAD_LETTERS
        from pipeline.streams.processor import DeadLetter, _text

        now_ms = int(time.time() * 1000)
        letters: list[tuple[bytes | None, bytes]] = []
        for item in rejected:
            record = positions[item.batch.table][item.index]
            self.stats.rejected += 1
            if item.batch.table == "dead_letters":
                log.error("dead letter %s:%d@%d refused by the store and dropped: %s",
                          record.topic, record.partition, record.offset, item.reason)  # fmt: skip
                continue
            venue = ""
            try:
                decoded = orjson.loads(record.value or b"")
            except orjson.JSONDecodeError:
                self.stats.undecodable += 1
            else:
                if isinstance(decoded, dict):
                    venue = str(decoded.get("venue") or "")
            letter = DeadLetter(
                source_topic=record.topic, source_partition=record.partition,
                source_offset=record.offset, venue=venue, reason="store_rejected",
                detail=f"{item.batch.table}: {item.reason}"[:2000], raw_key=_text(record.key),
                raw_value=_text(record.value), failed_at=now_ms,
            )  # fmt: skip
            letters.append((record.key, orjson.dumps(letter.to_dict())))
        if not letters:
            return
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, enable_idempotence=False, acks="all"
            )
            await self._producer.start()
        for key, value in letters:
            await self._producer.send_and_wait(DEAD_LETTERS, value, key=key)
        self.stats.dead_letters += len(letters)

    async def _write_with_retry(
        self, batches: list, stop: asyncio.Event, events: list[dict] | None = None
    ) -> None:
        """Write until the store takes the batch (a record it refuses for its data is
        isolated by the writer, never retried); other store errors back off and retry."""
        backoff = 0.25
        while True:
            started = time.monotonic()
            try:
                written = await asyncio.to_thread(self.writer.write, batches)
            except StoreError as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                log.warning("store write failed (retrying in %.1fs): %s", backoff, exc)
                if stop.is_set():
                    raise
                await asyncio.sleep(backoff)
                self.stats.retries += 1
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.stats.rows_written += written
            self.stats.batches += 1
            self.stats.last_batch_rows = written
            self.stats.last_batch_seconds = time.monotonic() - started
            if self.metrics is not None:
                self.metrics.observe_sink_write(
                    written, self.stats.last_batch_seconds, events or []
                )
            return


def _sample(events: list[bytes], every: int = 8) -> list[dict]:
    """One canonical event in `every` (and the first), decoded for the end-to-end latency
    histogram: the records reach the store as bytes, and decoding them all only for the
    metric would cost what passing bytes saves."""
    out = []
    for value in events[::every]:
        with contextlib.suppress(orjson.JSONDecodeError):
            obj = orjson.loads(value)
            if isinstance(obj, dict):
                out.append(obj)
    return out
