"""The process role: raw.* -> orders.events, orders.state, positions.state, fills, dlq.

A thin Kafka shell around `PartitionProcessor`, paying framework cost per batch: records come
from aiokafka `getmany` in batches and each batch is folded by plain Python (faust's agents
cost ~100 µs per event on these machines, PITFALLS §6, below the 30k events/s target, so the
hot path does not run through them). Workers in one consumer group share the partitions.

Delivery: at least once, with exactly-once *results*. The offsets of a batch are committed
only after every output of that batch has been acknowledged by the broker. After a restart or
a rebalance, a newly assigned partition's state is rebuilt by replaying the partition from
its first offset up to the committed offset without emitting (deterministic processing makes
this the exact state at the commit point); records after it are processed again, producing
the same outputs with the same versions, which the sink's replacing tables absorb. Recovery
reads to the committed offset, a number the group coordinator gives us, never to the broker's
end offset, which the embedded broker reports wrongly (PITFALLS §2).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from pipeline.config import Settings
from pipeline.kafka import DEAD_LETTERS, ORDERS_EVENTS, RAW_TOPICS
from pipeline.streams.gcpolicy import GcPolicy
from pipeline.streams.outputs import batch_messages
from pipeline.streams.processor import PartitionProcessor, ProcessedBatch, ProcessingSettings
from pipeline.streams.producer import BatchingProducer

log = logging.getLogger(__name__)


@dataclass
class ProcessStats:
    """Counters of one process worker (exported as metrics by the operations layer)."""

    records: int = 0
    normalized: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: int = 0
    messages_out: int = 0
    batches: int = 0
    recovered_records: int = 0
    reorder_depth: int = 0
    assigned: set[TopicPartition] = field(default_factory=set)
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # fetch high watermark - position

    def add(self, batch: ProcessedBatch) -> None:
        self.records += batch.records
        self.normalized += batch.normalized
        self.duplicates += batch.duplicates
        self.late += batch.late
        self.dead_letters += len(batch.dead_letters)


async def consumer_lag(consumer: AIOKafkaConsumer) -> dict[tuple[str, int], int]:
    """Per assigned partition: the fetch high watermark minus the consumer's position.

    Never from end offsets, which the embedded broker reports wrongly (PITFALLS §2);
    partitions not fetched yet (no high watermark known) are left out.
    """
    lag: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        try:
            position = await asyncio.wait_for(consumer.position(tp), timeout=0.1)
        except Exception:  # being revoked or reset: report it on the next round
            continue
        lag[(tp.topic, tp.partition)] = max(0, high - position)
    return lag


def consumer_timeouts(settings: Settings) -> dict[str, int]:
    """Group timeouts short enough for quick joins on the embedded broker (PITFALLS §4)."""
    return {
        "session_timeout_ms": int(settings.broker_session_timeout * 1000),
        "rebalance_timeout_ms": int(settings.broker_rebalance_timeout * 1000),
        "heartbeat_interval_ms": int(settings.broker_heartbeat_interval * 1000),
    }


class ProcessWorker:
    """Consumes raw topics in a consumer group and emits the canonical outputs."""

    def __init__(
        self,
        bootstrap: str,
        settings: Settings,
        processing: ProcessingSettings | None = None,
        group_id: str = "pipeline-processor",
        topics: Sequence[str] = RAW_TOPICS,
        idle_flush_s: float = 2.0,
        max_records: int = 5000,
        metrics: Any = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.processing = processing or ProcessingSettings()
        self.group_id = group_id
        self.topics = tuple(topics)
        self.idle_flush_s = idle_flush_s
        self.max_records = max_records
        self.stats = ProcessStats()
        self.metrics = metrics  # a PipelineMetrics, or None
        self._lag_at = 0.0
        self.processors: dict[TopicPartition, PartitionProcessor] = {}
        self._last_seen: dict[TopicPartition, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._batcher: BatchingProducer | None = None
        self._gc = GcPolicy()

    async def run(self, stop: asyncio.Event) -> None:
        self._gc.start()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            enable_idempotence=False,  # Tansu rejects InitProducerId (PITFALLS §1)
            acks="all",
            linger_ms=5,
            max_batch_size=1 << 20,
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            **consumer_timeouts(self.settings),
        )
        await self._producer.start()
        self._batcher = BatchingProducer(self._producer)
        try:
            await self._consumer.start()
            self._consumer.subscribe(list(self.topics), listener=_Rebalance(self))
            while not stop.is_set():
                await self.step(timeout_ms=200)
            await self._flush_all()
        finally:
            try:
                if self._consumer is not None:
                    await self._consumer.stop()
            finally:
                await self._producer.stop()

    async def step(self, timeout_ms: int) -> None:
        """One poll: process what arrived, flush idle partitions, deliver, then commit."""
        consumer, producer = self._consumer, self._producer
        assert consumer is not None
        assert producer is not None
        fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        now_wall = time.monotonic()
        letters: list = []
        records_in = 0
        now_ms = int(time.time() * 1000)
        deliveries: list[asyncio.Future[object]] = []
        commits: dict[TopicPartition, int] = {}
        for tp, records in fetched.items():
            processor = self.processors.get(tp)
            if processor is None:
                # Fetched before this partition's recovery finished (the fetcher starts on
                # assignment, the rebalance listener is still replaying), or revoked: never
                # drop records; rewind so they are fetched again once the state is ready.
                if tp in consumer.assignment():
                    consumer.seek(tp, records[0].offset)
                continue
            batch = processor.process(records, now_ms)
            self.stats.add(batch)
            records_in += batch.records
            letters += batch.dead_letters
            self._last_seen[tp] = now_wall
            deliveries += await self._send(batch_messages(batch))
            commits[tp] = processor.next_offset
        for tp, processor in self.processors.items():
            if (
                len(processor.reorder)
                and now_wall - self._last_seen.get(tp, 0) >= self.idle_flush_s
            ):
                deliveries += await self._send_events(processor.flush())
        self.stats.reorder_depth = sum(len(p.reorder) for p in self.processors.values())
        if deliveries:
            await asyncio.gather(*deliveries)
        if commits:
            await consumer.commit(commits)
            self._gc.after_batch()
            self.stats.batches += 1
            if self.metrics is not None:
                elapsed = time.monotonic() - now_wall
                self.metrics.observe_process_batch(records_in, elapsed, letters)
        if now_wall - self._lag_at >= 1.0:
            self._lag_at = now_wall
            self.stats.lag = await consumer_lag(consumer)

    async def _send(self, messages: dict[str, list[tuple[bytes, dict]]]) -> list:
        assert self._batcher is not None
        dumps = orjson.dumps
        encoded = {
            topic: [(key, dumps(value)) for key, value in items]
            for topic, items in messages.items()
            if items
        }
        before = self._batcher.messages
        futures = await self._batcher.send_all(encoded)
        self.stats.messages_out += self._batcher.messages - before
        return futures

    async def _send_events(self, events: list) -> list:
        batch = ProcessedBatch(events=events)
        messages = batch_messages(batch)
        return await self._send({ORDERS_EVENTS: messages[ORDERS_EVENTS]})

    async def _flush_all(self) -> None:
        deliveries = []
        for processor in self.processors.values():
            deliveries += await self._send_events(processor.flush())
        if deliveries:
            await asyncio.gather(*deliveries)

    async def recover(self, tp: TopicPartition, committed: int) -> PartitionProcessor:
        """Rebuild a partition's state by replaying it, silently, up to `committed`."""
        processor = PartitionProcessor(tp.topic, tp.partition, self.processing)
        if committed <= 0:
            return processor
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await reader.start()
        started = time.monotonic()
        try:
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            while processor.next_offset < committed:
                fetched = await reader.getmany(tp, timeout_ms=1000, max_records=10_000)
                records = [r for r in fetched.get(tp, []) if r.offset < committed]
                if records:
                    processor.process(records, 0)
                    self.stats.recovered_records += len(records)
                elif not fetched and time.monotonic() - started > 120:
                    raise RuntimeError(f"recovery of {tp} stalled at {processor.next_offset}")
        finally:
            await reader.stop()
        processor.next_offset = committed
        log.info(
            "recovered %s:%d to offset %d in %.2fs",
            tp.topic,
            tp.partition,
            committed,
            time.monotonic() - started,
        )
        return processor


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: ProcessWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self.worker.processors.pop(tp, None)
            self.worker.stats.assigned.discard(tp)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        consumer = self.worker._consumer
        assert consumer is not None
        for tp in assigned:
            if tp in self.worker.processors:
                continue
            committed = await consumer.committed(tp) or 0
            self.worker.processors[tp] = await self.worker.recover(tp, committed)
            self.worker.stats.assigned.add(tp)
        gc.freeze()  # recovered state is long-lived: keep the collector from rescanning it


__all__ = ["DEAD_LETTERS", "ProcessStats", "ProcessWorker", "consumer_lag", "consumer_timeouts"]
