"""Replay: the same processing and sink code, driven from a file or from `raw.*`, no sink topics.

`replay_file` reads raw envelopes (JSON lines) and `replay_topics` reads every raw partition
from its first offset to its high watermark (the fetch high watermark, which the embedded
broker reports correctly, unlike its end offsets: PITFALLS §2). Both fold the records with
`PartitionProcessor` (one per raw topic-partition, as the workers do) and write the outputs
straight to the store through the sink's `TableWriter`. Same input, same tables, every time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeline.kafka import RAW_TOPICS
from pipeline.sink.store import Store
from pipeline.sink.writer import TableWriter, table_batches
from pipeline.streams.gcpolicy import GcPolicy
from pipeline.streams.outputs import TOPIC_TABLES, batch_messages
from pipeline.streams.processor import (
    FileRecord,
    PartitionProcessor,
    ProcessedBatch,
    ProcessingSettings,
    RawRecord,
)

log = logging.getLogger(__name__)

REPLAYED_TABLES = ("orders", "order_events", "fills", "positions", "dead_letters")


@dataclass
class ReplayReport:
    records: int = 0
    events: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: int = 0
    rows_written: int = 0
    rejected: int = 0  # rows the store refused for their data (logged, skipped)
    seconds: float = 0.0

    def add(self, batch: ProcessedBatch) -> None:
        self.records += batch.records
        self.events += batch.normalized
        self.duplicates += batch.duplicates
        self.late += batch.late
        self.dead_letters += len(batch.dead_letters)

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0.0
        return (
            f"replayed {self.records} records ({self.events} events, {self.duplicates} "
            f"duplicates, {self.late} late, {self.dead_letters} dead letters) -> "
            f"{self.rows_written} rows in {self.seconds:.2f}s ({rate:,.0f} records/s)"
            + (f"; {self.rejected} rows refused by the store (see the log)" if self.rejected
               else "")
        )  # fmt: skip


class Replayer:
    """Folds raw records per topic-partition and writes the outputs to the store."""

    def __init__(self, store: Store, processing: ProcessingSettings | None = None) -> None:
        self.writer = TableWriter(store)
        self.processing = processing or ProcessingSettings()
        self.processors: dict[tuple[str, int], PartitionProcessor] = {}
        # everything fed per topic-partition: the end-of-input flush releases events of any
        # earlier record, so its token must change with any of them (issue 15: two files
        # differing only before a shared last line collided and lost the second's events)
        self.fed: dict[tuple[str, int], Any] = {}
        self.report = ReplayReport()
        self.gc = GcPolicy()
        self.gc.start()

    def feed(self, records: list[RawRecord], source: str) -> None:
        """Process records of one topic-partition and write what they produce."""
        if not records:
            return
        key = (records[0].topic, records[0].partition)
        processor = self.processors.get(key)
        if processor is None:
            processor = self.processors[key] = PartitionProcessor(*key, self.processing)
        batch = processor.process(records, int(time.time() * 1000))
        self.report.add(batch)
        digest = hashlib.blake2b(digest_size=8)  # other data at the same offsets: other token
        fed = self.fed.setdefault(key, hashlib.blake2b(digest_size=16))
        for record in records:
            digest.update(record.value or b"")
            fed.update((record.value or b"") + b"\n")
        self._write(
            batch, f"{source}:{records[0].offset}-{records[-1].offset}:{digest.hexdigest()}"
        )
        self.gc.after_batch()

    def finish(self) -> None:
        """Release the events still held by the reorder buffers and write them."""
        for (topic, partition), processor in self.processors.items():
            batch = ProcessedBatch(events=processor.flush())
            fed = self.fed.get((topic, partition))
            digest = fed.hexdigest() if fed is not None else "empty"
            self._write(batch, f"{topic}:{partition}:flush@{processor.next_offset}:{digest}")

    def _write(self, batch: ProcessedBatch, source: str) -> None:
        per_table: dict[str, list[dict]] = defaultdict(list)
        for topic, messages in batch_messages(batch).items():
            per_table[TOPIC_TABLES[topic]].extend(value for _key, value in messages)
        sources = {table: [source] for table in per_table}
        self.report.rows_written += self.writer.write(table_batches(per_table, sources))
        self.report.rejected += len(self.writer.rejected)


def truncate_tables(store: Store) -> None:
    for table in REPLAYED_TABLES:
        store.command(f"TRUNCATE TABLE IF EXISTS {store.database}.{table}")


def _file_records(path: Path) -> Iterator[FileRecord]:
    """Each line as a record of `raw.<venue>` (its envelope's venue), offset = line number."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            yield FileRecord(_route(line), 0, number, None, line)


#: The envelope's first field as the pipeline writes it (`{"venue":"upbit",...`): routing by
#: it spares parsing every line twice (the processor parses it again); others are parsed.
_LEADING_VENUE = re.compile(rb'\s*\{\s*"venue"\s*:\s*"(\w+)"')


def _route(line: bytes) -> str:
    """The raw topic of a line (`raw.<venue>`), or `replay.unrouted` (a dead letter later)."""
    leading = _LEADING_VENUE.match(line)
    if leading is not None:
        venue: object = leading.group(1).decode()
    else:
        try:
            venue = orjson.loads(line).get("venue")
        except (orjson.JSONDecodeError, AttributeError):
            venue = None
    topic = f"raw.{venue}"
    return topic if isinstance(venue, str) and topic in RAW_TOPICS else "replay.unrouted"


def replay_file(
    path: Path, store: Store, processing: ProcessingSettings | None = None, chunk: int = 5000
) -> ReplayReport:
    """Replay a JSON-lines file of raw envelopes into the store."""
    replayer = Replayer(store, processing)
    started = time.monotonic()
    _feed_chunks(replayer, _file_records(path), chunk, f"file:{path.name}")
    replayer.finish()
    replayer.report.seconds = time.monotonic() - started
    return replayer.report


def _feed_chunks(replayer: Replayer, records: Iterable[FileRecord], chunk: int, name: str) -> None:
    pending: dict[str, list[RawRecord]] = defaultdict(list)
    for record in records:
        bucket = pending[record.topic]
        bucket.append(record)
        if len(bucket) >= chunk:
            replayer.feed(bucket, f"{name}:{record.topic}")
            pending[record.topic] = []
    for topic, bucket in pending.items():
        replayer.feed(bucket, f"{name}:{topic}")


async def replay_topics(
    bootstrap: str, store: Store, processing: ProcessingSettings | None = None
) -> ReplayReport:
    """Rebuild the tables from the beginning of every raw partition up to its high watermark."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    replayer = Replayer(store, processing)
    started = time.monotonic()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in RAW_TOPICS
            for p in sorted(
                consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            )
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        pending = set(partitions)
        quiet_since = time.monotonic()
        while pending:
            fetched = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, records in fetched.items():
                await asyncio.to_thread(replayer.feed, records, f"{tp.topic}:{tp.partition}")
            if fetched:
                quiet_since = time.monotonic()
            for tp in list(pending):
                highwater = consumer.highwater(tp)
                if highwater is not None and await consumer.position(tp) >= highwater:
                    pending.discard(tp)
            if pending and time.monotonic() - quiet_since > 5:
                # partitions that never answered a fetch are empty
                pending = {tp for tp in pending if consumer.highwater(tp) not in (None, 0)}
                quiet_since = time.monotonic()
        await asyncio.to_thread(replayer.finish)
    finally:
        await consumer.stop()
    replayer.report.seconds = time.monotonic() - started
    return replayer.report


async def _partitions(consumer: object, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # type: ignore[attr-defined]
    return consumer.partitions_for_topic(topic) or set()  # type: ignore[attr-defined]
