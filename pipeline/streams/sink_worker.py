"""The sink role: output topics -> ClickHouse, offsets committed only after durable writes.

With chDB one process owns the store (DESIGN §2), so the sink runs in one process while
processing scales out. Each poll becomes one insert per table; the offsets are committed
after the store accepted all of them. A store error is retried with exponential backoff; the
worker does not fetch while it retries, so at most one batch is held in memory
(backpressure instead of unbounded buffering), and the failure is visible in the stats and
the log. Redelivered records are harmless: inserts carry deduplication tokens from their
source offsets and the digest of their values (`source_range`), and every table replaces by
key and version.
"""

from __future__ import annotations

import asyncio
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
from pipeline.sink.writer import TableWriter, table_batches
from pipeline.streams.outputs import OUTPUT_TOPICS, TOPIC_TABLES
from pipeline.streams.process_worker import consumer_lag, consumer_timeouts

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
        self.max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self.metrics = metrics  # a PipelineMetrics, or None
        self._lag_at = 0.0
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=3_600_000,  # a long store outage must not evict us
            **consumer_timeouts(self.settings),
        )
        await self._consumer.start()
        try:
            while not stop.is_set():
                await self.step(stop)
        finally:
            await self._consumer.stop()

    async def step(self, stop: asyncio.Event) -> None:
        consumer = self._consumer
        assert consumer is not None
        fetched = await consumer.getmany(timeout_ms=self.max_wait_ms, max_records=self.max_records)
        if time.monotonic() - self._lag_at >= 1.0:
            self._lag_at = time.monotonic()
            self.stats.lag = await consumer_lag(consumer)
        if not fetched:
            return
        per_table: dict[str, list[dict]] = defaultdict(list)
        sources: dict[str, list[str]] = defaultdict(list)
        commits: dict[TopicPartition, int] = {}
        loads = orjson.loads
        for tp, records in fetched.items():
            table = TOPIC_TABLES[tp.topic]
            rows = per_table[table]
            digest = hashlib.blake2b(digest_size=8)
            for record in records:
                value = record.value
                digest.update(value or b"")
                try:
                    rows.append(loads(value))
                except orjson.JSONDecodeError:
                    self.stats.undecodable += 1
                    log.error("undecodable record %s:%d@%d skipped", *tp, record.offset)
            sources[table].append(source_range(tp, records[0].offset, records[-1].offset, digest))
            commits[tp] = records[-1].offset + 1
            self.stats.records += len(records)
        batches = table_batches(per_table, sources)
        await self._write_with_retry(batches, stop, per_table.get("order_events", []))
        await consumer.commit(commits)

    async def _write_with_retry(
        self, batches: list, stop: asyncio.Event, events: list[dict] | None = None
    ) -> None:
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
