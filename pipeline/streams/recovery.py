"""Recovery of a partition assigned to a process worker: its state back, and where to resume.

Three ways, cheapest first (process_worker.py picks one when a partition is assigned):

- **Kept**: the partition was revoked from this very worker and handed straight back (an
  eager rebalance revokes every partition, those the worker keeps too). Its processor was
  kept in memory at the revoke, after its state was checkpointed, and is used again as it is,
  but only when that is provably what loading would give: the group's committed offset is
  still the processor's `next_offset` (no other member committed progress meanwhile) and the
  checkpoint on record is still the one written from this very state (same body digest: no
  other member wrote one since; `checkpoint_is_ours`). Anything else (another offset,
  another checkpoint, no digest to compare, a store that cannot say) loads as below.
- **Checkpoint**: the latest checkpoint (`load_latest`), restored on the trusted path (its
  body's digest was verified, state.py), then `recover`: the check that the topic is the one
  the checkpoint was taken from (`same_topic`) and a silent replay of the records between it
  and the committed offset (`replay`), when the commit is ahead.
- **Rebuild**: no usable checkpoint: the partition is folded silently from the first record
  it holds up to the committed offset.

Recovery never asks for end offsets, which the embedded broker reports wrongly (PITFALLS §2):
"nothing more" is the fetch high watermark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.errors import CheckpointError
from pipeline.streams.checkpoint import CheckpointStore, record_fingerprint
from pipeline.streams.processor import EPOCH_SPAN, PartitionProcessor, ProcessingSettings
from pipeline.streams.readers import stop_reader
from pipeline.streams.state import StateWriter, restore_processor

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Kept:
    """A revoked partition's processor, kept in case the next assignment hands it back.

    `digest`: of the checkpoint saved from exactly this state (its offset is
    `processor.next_offset`); only a processor whose state a saved checkpoint describes is
    kept at all."""

    processor: PartitionProcessor
    digest: str
    writer: StateWriter | None = None  # its checkpoint bodies' cache, still valid


@dataclass(slots=True)
class Recovered:
    """The outcome of `recover`."""

    processor: PartitionProcessor
    resume: int  # the offset to consume from
    new_topic: bool  # the checkpoint came from an earlier incarnation of the topic
    on_record: int  # the offset the checkpoint on record reflects (-1: none)


async def stored_digest(store: CheckpointStore, group: str, tp: TopicPartition) -> str | None:
    """The body digest of the latest checkpoint of `tp` on record (None: none, or unknown).

    From the store's `digest` when it has one (the file store reads the header alone);
    otherwise the whole checkpoint is loaded for it (still far cheaper than a restore)."""
    digest = getattr(store, "digest", None)
    if digest is not None:
        found = await digest(group, tp.topic, tp.partition)
        return found if isinstance(found, str) else None
    checkpoint = await store.load(group, tp.topic, tp.partition)
    return None if checkpoint is None else checkpoint.digest


async def checkpoint_is_ours(
    store: CheckpointStore | None,
    group: str,
    tp: TopicPartition,
    kept: Kept,
    committed: int | None,
) -> bool:
    """May `kept` be used instead of loading `tp`'s checkpoint? Only when nothing happened to
    the partition since this worker checkpointed that state at its revoke: the committed
    offset is the state's own and the latest checkpoint is byte for byte the one written from
    it (no committed offset counts as 0: nobody committed anything). Any doubt (a store error
    included) says no."""
    if store is None or (committed or 0) != kept.processor.next_offset:
        return False
    try:
        return await stored_digest(store, group, tp) == kept.digest
    except CheckpointError as exc:
        log.warning("%s:%d: checkpoint on record unknown (%s); loading it", *tp, exc)
        return False


async def load_latest(
    store: CheckpointStore | None, group: str, tp: TopicPartition, processing: ProcessingSettings
) -> PartitionProcessor | None:
    """The state of the latest usable checkpoint of `tp`, or None (and why, logged)."""
    if store is None:
        return None
    try:
        checkpoint = await store.load(group, tp.topic, tp.partition)
        if checkpoint is None:
            return None
        # its body matched its digest (checkpoint.decode): the trusted restore path
        processor = restore_processor(checkpoint.body, processing, trusted=True)
    except CheckpointError as exc:
        log.error(
            "%s:%d: checkpoint not usable, rebuilding from the raw topic: %s",
            tp.topic, tp.partition, exc,
        )  # fmt: skip
        return None
    if (processor.topic, processor.partition, processor.next_offset) != (
        tp.topic, tp.partition, checkpoint.offset,
    ):  # fmt: skip
        log.error("%s:%d: checkpoint describes another partition or offset, ignored", *tp)
        return None
    processor.last_fingerprint = checkpoint.fingerprint
    return processor


class PartitionReader:
    """A group-less consumer of one partition, started only when a recovery needs to read
    (an empty partition never does), or ahead of time (`start_soon`) to overlap its start
    with the checkpoint's load. `close` stops it, whatever state it got to."""

    def __init__(self, bootstrap: str, tp: TopicPartition) -> None:
        self.bootstrap = bootstrap
        self.tp = tp
        self._consumer: AIOKafkaConsumer | None = None
        self._starting: asyncio.Task[AIOKafkaConsumer] | None = None

    def start_soon(self) -> None:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())

    async def get(self) -> AIOKafkaConsumer:
        self.start_soon()
        assert self._starting is not None
        return await asyncio.shield(self._starting)

    async def _start(self) -> AIOKafkaConsumer:
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        consumer.assign([self.tp])
        return consumer

    async def close(self) -> None:
        starting, consumer = self._starting, self._consumer
        self._starting = self._consumer = None
        if starting is not None:
            starting.cancel()
            await asyncio.wait([starting])  # never raises its outcome; ours still propagates
            if not starting.cancelled():
                starting.exception()  # retrieved: `get` reported a failed start already
        if consumer is not None:
            with contextlib.suppress(Exception):
                await stop_reader(consumer)


async def recover(
    reader: PartitionReader,
    tp: TopicPartition,
    processor: PartitionProcessor | None,
    committed: int | None,
    processing: ProcessingSettings,
    stats: Any,
) -> Recovered:
    """Bring `processor` (restored from the latest checkpoint; None: there is none) up to
    `committed`: check that the topic is the one it was taken from, replay silently the
    records between it and `committed` (when the commit is ahead), reading with `reader`
    (the caller closes it). Counts into `stats` (a ProcessStats): restored_from_checkpoint,
    recovered_records."""
    new_topic = False
    on_record = -1
    start: int | None = None  # None: the first record the topic still has
    if processor is not None:
        if await same_topic(reader, tp, processor):
            start = on_record = processor.next_offset
        else:
            log.warning(
                "%s:%d: the checkpoint (offset %d) is from an earlier incarnation of "
                "the topic; its state carries on from the new topic's first record",
                tp.topic, tp.partition, processor.next_offset,
            )  # fmt: skip
            new_topic = True
            committed = None  # offsets of the old topic say nothing about this one
            processor.next_offset = 0
            processor.last_record = None
            processor.last_fingerprint = None
            processor.version_base += EPOCH_SPAN
        stats.restored_from_checkpoint += 1
    else:
        processor = PartitionProcessor(tp.topic, tp.partition, processing)
        if committed:
            log.warning(
                "%s:%d: no checkpoint; rebuilding from the first record the topic "
                "holds up to the committed offset %d",
                tp.topic, tp.partition, committed,
            )  # fmt: skip
    target = committed or 0
    if target > processor.next_offset:
        consumer = await reader.get()
        stats.recovered_records += await replay(consumer, tp, processor, start, target)
    resume = max(committed or 0, processor.next_offset)
    return Recovered(processor, resume, new_topic, on_record)


async def same_topic(
    reader: PartitionReader, tp: TopicPartition, processor: PartitionProcessor
) -> bool:
    """Is `tp` the topic the restored state was taken from? The record at the state's
    offset - 1 must still carry the fingerprint stored with it.

    A topic that holds fewer records than that is a new one; so is one whose record there
    differs. Records before it removed by retention are fine; when the record itself is gone
    (the checkpoint is older than the retention) the topic is taken to be the same one.
    """
    offset = processor.next_offset
    if offset == 0 or processor.last_fingerprint is None:
        return True
    consumer = await reader.get()
    consumer.seek(tp, offset - 1)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        fetched = await consumer.getmany(tp, timeout_ms=500, max_records=1)
        records = fetched.get(tp)
        if records:
            record = records[0]
            if record.offset == offset - 1:
                return record_fingerprint(record) == processor.last_fingerprint
            log.warning(
                "%s:%d: the record at %d is gone (retention?); the topic starts at %d",
                tp.topic, tp.partition, offset - 1, record.offset,
            )  # fmt: skip
            return record.offset <= offset
        high = consumer.highwater(tp)
        if high is not None and high < offset:
            return False
    return False


async def replay(
    reader: AIOKafkaConsumer,
    tp: TopicPartition,
    processor: PartitionProcessor,
    start: int | None,
    end: int,
) -> int:
    """Fold `tp`'s records from `start` (None: the first one held) up to `end`, silently;
    stop early when the topic has no more (the fetch high watermark). Return the count."""
    if start is None:
        await reader.seek_to_beginning(tp)
    else:
        reader.seek(tp, start)
    count = 0
    quiet_since = time.monotonic()
    while processor.next_offset < end:
        fetched = await reader.getmany(tp, timeout_ms=500, max_records=10_000)
        records = [r for r in fetched.get(tp, []) if r.offset < end]
        if records:
            processor.process(records, 0)
            count += len(records)
            quiet_since = time.monotonic()
            continue
        high = reader.highwater(tp)
        if high is not None and high <= processor.next_offset:
            log.warning("%s:%d: the topic ends at %d, before offset %d", *tp, high, end)
            break
        if time.monotonic() - quiet_since > 120:
            raise RuntimeError(f"recovery of {tp} stalled at {processor.next_offset}")
    return count


__all__ = [
    "Kept",
    "Recovered",
    "checkpoint_is_ours",
    "load_latest",
    "recover",
    "replay",
    "same_topic",
    "stored_digest",
]
