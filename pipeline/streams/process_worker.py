"""The process role: raw.* -> orders.events, orders.state, positions.state, fills, dlq.

A thin Kafka shell around `PartitionProcessor`, paying framework cost per batch: records come
from aiokafka `getmany` in batches and each batch is folded by plain Python (faust's agents
cost ~100 µs per event on these machines, PITFALLS §6, below the 30k events/s target, so the
hot path does not run through them). Workers in one consumer group share the partitions.

Delivery: at least once, with exactly-once *results*. A batch's outputs are acknowledged by
the broker before anything else; then, every `checkpoint_interval_s` or `checkpoint_records`,
the partition's state is checkpointed (checkpoint.py) with the offset it reflects; then the
batch's offsets are committed. Recovery (start, restart after a crash, rebalance) loads the
latest checkpoint, checks that the topic is the one it was taken from, replays silently the
records between the checkpoint and the committed offset (if the commit is ahead), and resumes
at whichever is later: both mark records whose outputs were already delivered, so nothing is
lost and a crash at any instant gives the state an uninterrupted run has. Records after that
are processed again, producing the same outputs with the same versions, which the sink's
replacing tables absorb. Recovery never needs the raw topic from offset 0 (retention may have
removed it) and never asks for end offsets, which the embedded broker reports wrongly
(PITFALLS §2): "nothing more" is the fetch high watermark.

A newly assigned partition is paused and recovered in a task of its own, so the rebalance
listener returns at once and the group is never held up by a long recovery; its records are
fetched once it is resumed at the right offset. When the checkpoint comes from an earlier
incarnation of the topic (the embedded broker restarted empty; a topic recreated), its state
carries on over the new topic from its first record: positions, open orders, dedupe memory
and versions continue, `order_events` versions move to a higher epoch, and the order and
position states are published again so the compacted topics hold them.

A revoked partition is checkpointed (unless the checkpoint on record already describes its
state exactly) and its processor kept until the next assignment: handed back to this worker
(an eager rebalance revokes every partition, also those that stay), it is used again without
loading anything when the committed offset and the checkpoint on record prove that nothing
happened to the partition meanwhile; otherwise, and for partitions not handed back, it is
dropped. How each recovery path works, and why it is exact: recovery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from pipeline.config import Settings
from pipeline.errors import CheckpointError
from pipeline.kafka import DEAD_LETTERS, RAW_TOPICS
from pipeline.streams import recovery
from pipeline.streams.checkpoint import Checkpoint, CheckpointStore, record_fingerprint
from pipeline.streams.gcpolicy import GcPolicy
from pipeline.streams.outputs import batch_messages, split_batch
from pipeline.streams.processor import PartitionProcessor, ProcessedBatch, ProcessingSettings
from pipeline.streams.producer import BatchingProducer
from pipeline.streams.recovery import Kept, Recovered
from pipeline.streams.sinkgate import SinkGate
from pipeline.streams.state import StateWriter

log = logging.getLogger(__name__)

# How long a fetch may wait at the broker for data (aiokafka's default is 500 ms): the
# embedded broker answers a waiting fetch only when that time is up, not when records
# arrive, so the default adds up to half a second per hop to the state latency.
FETCH_MAX_WAIT_MS = 50


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
    checkpoints_written: int = 0
    checkpoint_errors: int = 0
    restored_from_checkpoint: int = 0  # partitions whose recovery started from a checkpoint
    partitions_kept: int = 0  # partitions handed back after a revoke, their state kept in memory
    revoke_checkpoints_skipped: int = 0  # revoked with the checkpoint on record still current
    recovery_seconds: float = 0.0  # the last recovery's duration
    reorder_depth: int = 0
    first_batch_at: float = 0.0  # wall time (s) the first batch of records arrived
    last_batch_at: float = 0.0  # wall time (s) the last batch's offsets were committed
    assigned: set[TopicPartition] = field(default_factory=set)
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # fetch high watermark - position
    # (venue, "snapshot" | "stream") -> reports that changed an order already final
    corrections: dict[tuple[str, str], int] = field(default_factory=dict)
    # venue -> final orders whose fills fall short of their filled quantity (assigned partitions)
    missing_fills: dict[str, int] = field(default_factory=dict)

    def add(self, batch: ProcessedBatch) -> None:
        self.records += batch.records
        self.normalized += batch.normalized
        self.duplicates += batch.duplicates
        self.late += batch.late
        self.dead_letters += len(batch.dead_letters)
        for key, count in batch.corrections.items():
            self.corrections[key] = self.corrections.get(key, 0) + count


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


@dataclass
class _InFlight:
    """One step's outputs sent, not yet acknowledged, and the offsets to commit once they
    are (see `ProcessWorker.step`)."""

    started: float
    deliveries: list[asyncio.Future[object]] = field(default_factory=list)
    commits: dict[TopicPartition, int] = field(default_factory=dict)
    records: int = 0
    letters: list[Any] = field(default_factory=list)


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
        checkpoints: CheckpointStore | None = None,
        checkpoint_interval_s: float = 10.0,
        checkpoint_records: int = 100_000,
        crash_hook: Callable[[str], None] | None = None,
        sink_group: str | None = None,
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
        self.checkpoints = checkpoints
        self.checkpoint_interval_s = checkpoint_interval_s
        self.checkpoint_records = checkpoint_records
        # Called with "outputs", "checkpoint", "commit" after each of those steps of a batch:
        # the crash tests raise from it to stop the worker at that instant.
        self.crash_hook = crash_hook
        # the offset of the checkpoint on record, and of the last one taken (offset, monotonic)
        self._checkpointed: dict[TopicPartition, tuple[int, float]] = {}
        self._taken: dict[TopicPartition, tuple[int, float]] = {}
        # With `sink_group` (the embedded broker, whose memory dies with the process), a
        # checkpoint is held until that group has stored every output it covers (sinkgate.py).
        self._gate = SinkGate(bootstrap, sink_group) if sink_group and checkpoints else None
        self._loading: dict[TopicPartition, asyncio.Task[None]] = {}
        # Which state a saved checkpoint describes: each processor's state has a generation,
        # bumped whenever it changes (records folded, the reorder buffer flushed);
        # `_described` is the last checkpoint taken with the generation it was taken at,
        # `_clean` the digest of the last one saved with that generation. The checkpoint on
        # record describes the current state exactly while `_clean`'s generation is current.
        self._generation: dict[TopicPartition, int] = {}
        self._described: dict[TopicPartition, tuple[Checkpoint, int]] = {}
        self._clean: dict[TopicPartition, tuple[str, int]] = {}
        self._writers: dict[TopicPartition, StateWriter] = {}  # checkpoint bodies, cheaper
        # revoked partitions whose state a saved checkpoint describes, until the next
        # assignment says whether they come back (recovery.py)
        self._kept: dict[TopicPartition, Kept] = {}
        self._lock = asyncio.Lock()  # a batch (fold, deliver, checkpoint, commit) vs a revoke
        self._covered_at = 0.0
        # Records folded, and output messages per topic encoded, between two turns of the
        # event loop (see `_fold`, `_deliver`): each slice takes a few milliseconds.
        self.fold_chunk = 1000
        self.send_chunk = 500
        # a step's outputs in flight while the next is folded (`step`); False: each step
        # waits for its own acknowledgements and commits before the next fetch
        self.overlap = True
        self._inflight: _InFlight | None = None

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
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **consumer_timeouts(self.settings),
        )
        await self._producer.start()
        self._batcher = BatchingProducer(self._producer)
        if self._gate is not None:
            self._batcher.sent = []
        try:
            await self._consumer.start()
            self._consumer.subscribe(list(self.topics), listener=_Rebalance(self))
            while not stop.is_set():
                await self.step(timeout_ms=200)
            async with self._lock:
                await self._settle()
                # Checkpoint first: the events the flush releases stay in the checkpoint, so a
                # restart sends them again should the sink not have stored them (harmless:
                # the same rows) rather than never.
                for tp in list(self.processors):
                    await self._checkpoint(tp)
                await self._release_held(wait_s=5.0)
                await self._flush_all()
        finally:
            for task in self._loading.values():
                task.cancel()
            self._kept.clear()
            if self._gate is not None:
                await self._gate.close()
            try:
                if self._consumer is not None:
                    await self._consumer.stop()
            finally:
                await self._producer.stop()
                if self.checkpoints is not None:
                    await self.checkpoints.close()

    async def step(self, timeout_ms: int) -> None:
        """One poll: process what arrived, flush idle partitions, deliver, then commit.

        A batch's acknowledgements are awaited, and its offsets committed, in the next step,
        after the next fetch is folded and sent (`_settle`): the broker acknowledges one batch
        while the next is folded, instead of the worker waiting idle for each. With a batch
        in flight the poll does not wait for records: an empty one settles the batch first.
        """
        consumer, producer = self._consumer, self._producer
        assert consumer is not None
        assert producer is not None
        waiting = self._inflight is not None
        fetched = await consumer.getmany(
            timeout_ms=0 if waiting else timeout_ms, max_records=self.max_records
        )
        async with self._lock:
            if not fetched and self._inflight is not None:
                await self._settle()
                return
            await self._step(fetched)

    @property
    def in_flight(self) -> bool:
        """Is a batch's delivery or commit still pending (see `step`)?"""
        return self._inflight is not None

    async def _step(self, fetched: dict[TopicPartition, list[Any]]) -> None:
        consumer = self._consumer
        assert consumer is not None
        now_wall = time.monotonic()
        if fetched and not self.stats.first_batch_at:
            self.stats.first_batch_at = time.time()
        now_ms = int(time.time() * 1000)
        current = _InFlight(started=now_wall)
        for tp, records in fetched.items():
            processor = self.processors.get(tp)
            if processor is None:
                # Fetched before this partition's recovery finished (the fetcher starts on
                # assignment, the rebalance listener is still replaying), or revoked: never
                # drop records; rewind so they are fetched again once the state is ready.
                if tp in consumer.assignment():
                    consumer.seek(tp, records[0].offset)
                continue
            batch = await self._fold(processor, records, now_ms)
            self._changed(tp)
            self.stats.add(batch)
            current.records += batch.records
            current.letters += batch.dead_letters
            self._last_seen[tp] = now_wall
            current.deliveries += await self._deliver(batch)
            current.commits[tp] = processor.next_offset
        for tp, processor in self.processors.items():
            if (
                len(processor.reorder)
                and now_wall - self._last_seen.get(tp, 0) >= self.idle_flush_s
            ):
                current.deliveries += await self._send_events(processor.flush())
                self._changed(tp)
        self.stats.reorder_depth = sum(len(p.reorder) for p in self.processors.values())
        missing: dict[str, int] = {}
        for tp, processor in self.processors.items():
            venue = tp.topic.removeprefix("raw.")
            missing[venue] = missing.get(venue, 0) + processor.missing_fills
        self.stats.missing_fills = missing
        # every partition, idle ones too: their outputs were all delivered in earlier steps
        due = (
            [tp for tp in self.processors if self._checkpoint_due(tp, now_wall)]
            if self.checkpoints is not None
            else []
        )
        sent = current if current.deliveries or current.commits else None  # idle: nothing
        previous, self._inflight = self._inflight, sent
        if previous is not None:  # acknowledged meanwhile, most likely: commit it
            await self._settle_one(previous)
        if due or not self.overlap:  # a checkpoint needs every output so far acknowledged
            await self._settle(due)
        if now_wall - self._covered_at >= 1.0:
            self._covered_at = now_wall
            await self._release_held()
            await self._mark_covered(now_ms)
        if now_wall - self._lag_at >= 1.0:
            self._lag_at = now_wall
            self.stats.lag = await consumer_lag(consumer)

    async def _settle(self, due: Sequence[TopicPartition] = (), revoking: bool = False) -> None:
        """Wait for the batch in flight's acknowledgements, checkpoint `due` (whose outputs
        are then all acknowledged), then commit its offsets. Every caller holds `_lock`.
        `revoking`: a commit refused by the rebalance under way is logged, not raised (the
        revoke's checkpoint, or the records processed again with the same outputs, cover
        it)."""
        current, self._inflight = self._inflight, None
        if current is None:
            if revoking:
                return  # nothing sent since the last commit
            current = _InFlight(started=time.monotonic())
        await self._settle_one(current, due, revoking)

    async def _settle_one(
        self, batch: _InFlight, due: Sequence[TopicPartition] = (), revoking: bool = False
    ) -> None:
        consumer = self._consumer
        assert consumer is not None
        if batch.deliveries:
            await asyncio.gather(*batch.deliveries)
        if self._gate is not None and self._inflight is None:
            assert self._batcher is not None  # every batch sent so far is acknowledged now
            self._gate.produced(self._batcher.take_sent())
        # (not from the revoke listener: aiokafka logs what a listener raises, and goes on)
        crash = self._crash_point if not revoking else _no_crash
        crash("outputs")
        for tp in due:
            await self._checkpoint(tp)
        if due:
            crash("checkpoint")
        commits = {tp: offset for tp, offset in batch.commits.items()
                   if tp in self.processors}  # fmt: skip
        if commits:
            try:
                await consumer.commit(commits)
            except KafkaError as exc:
                if not revoking:
                    raise
                log.warning("commit of %s before a revoke refused: %s", commits, exc)
        if batch.commits:
            self.stats.last_batch_at = time.time()
            crash("commit")
            self._gc.after_batch()
            self.stats.batches += 1
            if self.metrics is not None:
                elapsed = time.monotonic() - batch.started
                self.metrics.observe_process_batch(batch.records, elapsed, batch.letters)

    async def _fold(
        self, processor: PartitionProcessor, records: list[Any], now_ms: int
    ) -> ProcessedBatch:
        """`processor.process(records)`, a slice of `fold_chunk` records at a time with the
        event loop let run between them: a whole fetch (up to `max_records`) folded at once
        held the loop for hundreds of milliseconds on a loaded host. The result is the one
        a single call gives (the processor's outputs do not depend on how records are cut
        into calls; the order and position states still collapse over the whole fetch)."""
        chunk = self.fold_chunk
        if len(records) <= chunk:
            return processor.process(records, now_ms)
        batch = ProcessedBatch(version_base=processor.version_base)
        for start in range(0, len(records), chunk):
            if start:
                await asyncio.sleep(0)
            batch.merge(processor.process(records[start : start + chunk], now_ms))
        return batch

    async def _deliver(self, batch: ProcessedBatch) -> list:
        """Send `batch`'s outputs; the futures of their acknowledgements. Encoded a slice at
        a time (`split_batch`), letting the event loop run between slices, then sent at
        once, so that the broker still gets one record batch per output partition."""
        pieces = split_batch(batch, self.send_chunk)
        encoded = _encode(batch_messages(next(pieces)))
        for piece in pieces:
            await asyncio.sleep(0)
            for topic, items in _encode(batch_messages(piece)).items():
                encoded.setdefault(topic, []).extend(items)
        return await self._send_encoded(encoded)

    async def _send_encoded(self, encoded: dict[str, list[tuple[bytes, bytes]]]) -> list:
        assert self._batcher is not None
        before = self._batcher.messages
        futures = await self._batcher.send_all(encoded)
        self.stats.messages_out += self._batcher.messages - before
        return futures

    async def _send_events(self, events: list) -> list:
        return await self._deliver(ProcessedBatch(events=events))

    async def _flush_all(self) -> None:
        deliveries = []
        for tp, processor in self.processors.items():
            deliveries += await self._send_events(processor.flush())
            self._changed(tp)
        if deliveries:
            await asyncio.gather(*deliveries)

    def _crash_point(self, name: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(name)

    # -- checkpoints ----------------------------------------------------------------------

    def _changed(self, tp: TopicPartition) -> None:
        """`tp`'s state changed: no checkpoint saved so far describes it."""
        self._generation[tp] = self._generation.get(tp, 0) + 1

    def _current(self, tp: TopicPartition) -> str | None:
        """The digest of the saved checkpoint that describes `tp`'s current state exactly
        (None: none does)."""
        clean = self._clean.get(tp)
        if clean is None or clean[1] != self._generation.get(tp, 0):
            return None
        return clean[0]

    def _checkpoint_due(self, tp: TopicPartition, now: float) -> bool:
        processor = self.processors.get(tp)
        if processor is None:
            return False
        offset, at = self._taken.setdefault(tp, (-1, now))
        done = processor.next_offset - offset  # -1: none on record, even for an empty state
        return done > 0 and (
            done >= self.checkpoint_records or now - at >= self.checkpoint_interval_s
        )

    async def _checkpoint(self, tp: TopicPartition, unless_current: bool = False) -> None:
        """Take `tp`'s checkpoint; only call when every output of its records was
        acknowledged. Saved at once, or held until the sink stored those outputs.
        `unless_current`: not when the checkpoint on record describes the state already."""
        processor = self.processors.get(tp)
        if self.checkpoints is None or processor is None:
            return
        if unless_current and self._current(tp) is not None:
            self.stats.revoke_checkpoints_skipped += 1
            return
        if processor.last_record is not None:
            fingerprint: str | None = record_fingerprint(processor.last_record)
        else:
            fingerprint = processor.last_fingerprint
        # Built in a thread: walking a partition's whole state takes tens to hundreds of
        # milliseconds, which on the loop would stall heartbeats, fetches and deliveries.
        # Safe because every caller holds `_lock`: no batch folds while the thread reads the
        # state, and the body it returns is a snapshot (new lists, dicts and immutable
        # fragments), so what is done with it later needs no lock.
        writer = self._writers.setdefault(tp, StateWriter())
        body = await asyncio.to_thread(writer.state, processor)
        now_ms = int(time.time() * 1000)
        checkpoint = Checkpoint(
            group=self.group_id,
            topic=tp.topic,
            partition=tp.partition,
            offset=processor.next_offset,
            fingerprint=fingerprint,
            written_at=now_ms,
            body=body,
        )
        self._taken[tp] = (processor.next_offset, time.monotonic())
        self._described[tp] = (checkpoint, self._generation.get(tp, 0))
        high = self._consumer.highwater(tp) if self._consumer is not None else None
        covered_at = now_ms if high is not None and processor.next_offset >= high else None
        if self._gate is not None:
            self._gate.hold(checkpoint, covered_at)
        else:
            await self._save(checkpoint, covered_at)

    async def _save(self, checkpoint: Checkpoint, covered_at: int | None) -> None:
        assert self.checkpoints is not None
        tp = TopicPartition(checkpoint.topic, checkpoint.partition)
        try:
            digest = await self.checkpoints.save(checkpoint)
        except CheckpointError as exc:  # the next one may succeed; recovery replays more
            self._clean.pop(tp, None)  # which one is on record now is not known for sure
            self.stats.checkpoint_errors += 1
            log.error("checkpoint of %s:%d not written: %s", checkpoint.topic,
                      checkpoint.partition, exc)  # fmt: skip
            return
        self.stats.checkpoints_written += 1
        self._checkpointed[tp] = (checkpoint.offset, time.monotonic())
        described = self._described.get(tp)
        if described is not None and described[0] is checkpoint and isinstance(digest, str):
            self._clean[tp] = (digest, described[1])  # this state's, as long as it is current
        else:  # an older one held back (sinkgate.py), or a store that does not say
            self._clean.pop(tp, None)
        mark = getattr(self.checkpoints, "mark_covered", None)
        if covered_at is not None and mark is not None:
            with contextlib.suppress(CheckpointError):
                await mark(checkpoint.group, checkpoint.topic, checkpoint.partition, covered_at)

    async def _release_held(self, wait_s: float = 0.0) -> None:
        """Save the held checkpoints whose outputs the sink has stored (waiting up to
        `wait_s` for all of them, at a stop)."""
        gate = self._gate
        if gate is None:
            return
        deadline = time.monotonic() + wait_s
        while True:
            for checkpoint, covered_at in await gate.ready():
                await self._save(checkpoint, covered_at)
            if not gate.holding or time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.25)

    async def _mark_covered(self, now_ms: int) -> None:
        """Tell the checkpoint store up to when each caught-up partition's raw records are all
        in its latest checkpoint (file store only: the embedded stack's ingestors resume
        from there after a restart, since its broker keeps nothing)."""
        mark = getattr(self.checkpoints, "mark_covered", None)
        consumer = self._consumer
        if mark is None or consumer is None:
            return
        for tp, processor in self.processors.items():
            high = consumer.highwater(tp)
            checkpointed = self._checkpointed.get(tp)
            if (
                high is not None
                and processor.next_offset >= high
                and checkpointed is not None
                and checkpointed[0] == processor.next_offset
            ):
                try:
                    await mark(self.group_id, tp.topic, tp.partition, now_ms)
                except CheckpointError as exc:
                    log.warning("%s:%d: %s", tp.topic, tp.partition, exc)

    # -- recovery -------------------------------------------------------------------------

    async def recover(self, tp: TopicPartition, committed: int | None) -> Recovered:
        """Rebuild `tp`'s state: the latest checkpoint, then a silent replay of the records
        between it and `committed` (when the commit is ahead); see recovery.py."""
        started = time.monotonic()
        reader = recovery.PartitionReader(self.bootstrap, tp)
        if committed:  # records were folded: the checkpoint's topic is to be checked
            reader.start_soon()  # while the checkpoint loads
        try:
            processor = await recovery.load_latest(
                self.checkpoints, self.group_id, tp, self.processing
            )
            recovered = await recovery.recover(
                reader, tp, processor, committed, self.processing, self.stats
            )
        finally:
            await reader.close()
        self.stats.recovery_seconds = time.monotonic() - started
        log.info(
            "recovered %s:%d to offset %d in %.2fs",
            tp.topic, tp.partition, recovered.resume, self.stats.recovery_seconds,
        )  # fmt: skip
        return recovered

    async def _load(self, tp: TopicPartition) -> None:
        """Recover a paused, newly assigned partition, then resume it at the right offset."""
        consumer = self._consumer
        assert consumer is not None
        kept = self._kept.pop(tp, None)
        reused: Kept | None = None
        delay = 0.5
        while True:
            try:
                started = time.monotonic()
                committed = await consumer.committed(tp)
                if kept is not None and await recovery.checkpoint_is_ours(
                    self.checkpoints, self.group_id, tp, kept, committed
                ):
                    reused = kept
                    offset = kept.processor.next_offset
                    recovered = Recovered(kept.processor, offset, False, offset)
                    self.stats.recovery_seconds = time.monotonic() - started
                    log.info(
                        "recovered %s:%d to offset %d in %.2fs (its state kept since the revoke)",
                        tp.topic, tp.partition, offset, self.stats.recovery_seconds,
                    )  # fmt: skip
                else:
                    if kept is not None:
                        log.info(
                            "%s:%d: handed back, but the committed offset (%s) or the "
                            "checkpoint on record moved since the revoke (kept state at %d); "
                            "loading the checkpoint",
                            tp.topic, tp.partition, committed, kept.processor.next_offset,
                        )  # fmt: skip
                        kept = None
                    recovered = await self.recover(tp, committed)
                break
            except asyncio.CancelledError:
                raise  # revoked, or the worker stops
            except Exception as exc:  # a broker hiccup: the partition stays paused meanwhile
                log.warning("recovery of %s:%d failed (retrying): %s", *tp, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        processor = recovered.processor
        async with self._lock:
            self._loading.pop(tp, None)
            if tp not in consumer.assignment():
                return
            self.processors[tp] = processor
            self._generation[tp] = 0
            if reused is not None:  # the checkpoint on record is the one it was saved as
                self._clean[tp] = (reused.digest, 0)
                if reused.writer is not None:
                    self._writers[tp] = reused.writer
                self.stats.partitions_kept += 1
            self._checkpointed[tp] = self._taken[tp] = (recovered.on_record, time.monotonic())
            self.stats.assigned.add(tp)
            consumer.seek(tp, recovered.resume)
            consumer.resume(tp)
            if recovered.new_topic:
                batch = ProcessedBatch(version_base=processor.version_base)
                batch.orders = {state.key: state for state in processor.book.orders()}
                batch.positions = {p.key: p for p in processor.book.positions()}
                deliveries = await self._deliver(batch)
                if deliveries:
                    await asyncio.gather(*deliveries)
                await self._checkpoint(tp)  # the state now belongs to this topic
        gc.freeze()  # recovered state is long-lived: keep the collector from rescanning it


def _no_crash(name: str) -> None:
    return None


def _encode(messages: dict[str, list[tuple[bytes, dict]]]) -> dict[str, list[tuple[bytes, bytes]]]:
    """The messages with their values as JSON bytes; topics without any left out."""
    dumps = orjson.dumps
    return {
        topic: [(key, dumps(value)) for key, value in items]
        for topic, items in messages.items()
        if items
    }


class _Rebalance(ConsumerRebalanceListener):
    """Returns at once: recovery runs in a task per partition while the partition is paused."""

    def __init__(self, worker: ProcessWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        worker = self.worker
        for tp in revoked:
            task = worker._loading.pop(tp, None)
            if task is not None:
                task.cancel()
        async with worker._lock:  # no batch is half done
            # every output so far acknowledged, the offsets committed while the group lets
            try:
                await worker._settle(revoking=True)
                settled = True
            except Exception as exc:  # outputs not acknowledged: no checkpoint may claim them
                settled = False
                log.error("outputs in flight at the revoke of %s failed (%s): not "
                          "checkpointed, the next owner replays them", revoked, exc)  # fmt: skip
            for tp in revoked:
                if settled and tp in worker.processors:  # the next owner resumes from here
                    await worker._checkpoint(tp, unless_current=True)
            await worker._release_held()
            for tp in revoked:
                if worker._gate is not None:  # a later write could overwrite the new owner's
                    worker._gate.forget(tp.topic, tp.partition)
                processor = worker.processors.pop(tp, None)
                digest = worker._current(tp)
                writer = worker._writers.pop(tp, None)
                if processor is not None and digest is not None:
                    worker._kept[tp] = Kept(processor, digest, writer)  # in case it comes back
                for memo in (worker._checkpointed, worker._taken, worker._generation,
                             worker._described, worker._clean):  # fmt: skip
                    memo.pop(tp, None)
                worker.stats.assigned.discard(tp)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        worker = self.worker
        consumer = worker._consumer
        assert consumer is not None
        for tp in [tp for tp in worker._kept if tp not in assigned]:
            del worker._kept[tp]  # another member has it now
        for tp in assigned:
            if tp in worker.processors or tp in worker._loading:
                continue
            consumer.pause(tp)
            worker._loading[tp] = asyncio.create_task(worker._load(tp), name=f"recover {tp}")


__all__ = ["DEAD_LETTERS", "ProcessStats", "ProcessWorker", "consumer_lag", "consumer_timeouts"]
