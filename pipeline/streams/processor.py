"""The per-partition processor: raw records in, everything to emit out. No I/O.

One `PartitionProcessor` owns one raw topic-partition. Keys are `venue|account|symbol`, so
every order and every position lives in exactly one partition and is folded here in one
pass. For each batch of records it decodes the envelope, normalizes the payload, folds each
canonical event into its `TradingBook` (which drops duplicates by event identity and makes
the result independent of arrival order), and collects:

- the canonical events released by the event-time reorder buffer (the canonical log), each
  marked late or not;
- the latest state of each order touched, the latest position of each position touched
  (compacted topics need only the newest per key, so a batch collapses them);
- every fill emitted, stamped with the version of the order state that emitted it, so that a
  revised derived fill replaces its earlier row in a replacing table;
- a dead letter for every record that cannot be used, with the reason and the raw bytes.

Processing is deterministic in its input: replaying a partition's records rebuilds the same
state, which is how a worker recovers after a restart or a rebalance. The only clock is the
partition's own watermark (event time), used to expire the memory of finished orders.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline import venues
from pipeline.domain.book import TradingBook
from pipeline.domain.errors import DomainError
from pipeline.domain.events import Fill, OrderEvent
from pipeline.domain.orders import OrderState
from pipeline.domain.positions import Position
from pipeline.envelope import decode_envelope
from pipeline.errors import BadInputError

HOUR_MS = 3_600_000
EVICT_EVERY_MS = 60_000  # event time between two evictions of finished orders
#: A final order counts as missing fills only once settled this long (event time): its trades
#: may arrive just after the report that ended it.
MISSING_FILLS_GRACE_MS = 60_000
EPOCH_SPAN = 1 << 40  # `version_base` step: above any offset a partition reaches

log = logging.getLogger(__name__)


class RawRecord(Protocol):
    """What the processor needs of a Kafka record (aiokafka's ConsumerRecord fits)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(slots=True)
class FileRecord:
    """A raw record that did not come from Kafka (replay from a file)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


#: The most of a raw record's value a dead letter keeps (see `_dead_letter`).
DEAD_LETTER_RAW_BYTES = 1024 * 1024


@dataclass(slots=True)
class DeadLetter:
    """A record that could not be processed, with why; nothing is dropped silently."""

    source_topic: str
    source_partition: int
    source_offset: int
    venue: str
    reason: str
    detail: str
    raw_key: str
    raw_value: str
    failed_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "venue": self.venue,
            "reason": self.reason,
            "detail": self.detail,
            "raw_key": self.raw_key,
            "raw_value": self.raw_value,
            "failed_at": self.failed_at,
        }


def _text(raw: bytes | None) -> str:
    """Raw bytes as text: UTF-8 when they are, else `base64:` + the base64 encoding."""
    if raw is None:
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode("ascii")


@dataclass(slots=True)
class ProcessedBatch:
    """Everything one batch of raw records produced."""

    # (event, late, source offset): the offset orders copies of one event in the log table
    events: list[tuple[OrderEvent, bool, int]] = field(default_factory=list)
    orders: dict[tuple[str, str, str], OrderState] = field(default_factory=dict)
    fills: list[tuple[Fill, int]] = field(default_factory=list)  # (fill, version)
    positions: dict[tuple[str, str, str], Position] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    records: int = 0
    normalized: int = 0
    duplicates: int = 0
    late: int = 0
    # (venue, "snapshot" | "stream") -> reports that changed an order already final
    # (TradingBook.snapshot_corrections / stream_corrections); empty in the common case
    corrections: dict[tuple[str, str], int] = field(default_factory=dict)
    # the processor's `version_base`, added to the versions of order states, fills and
    # positions on the way out, so that a state carried onto a new topic incarnation wins
    # over whatever an earlier incarnation stored, however far that one got
    version_base: int = 0

    def merge(self, other: ProcessedBatch) -> None:
        """Fold a later batch into this one (newest state per key wins)."""
        self.version_base = other.version_base
        self.events.extend(other.events)
        self.orders.update(other.orders)
        self.fills.extend(other.fills)
        self.positions.update(other.positions)
        self.dead_letters.extend(other.dead_letters)
        self.records += other.records
        self.normalized += other.normalized
        self.duplicates += other.duplicates
        self.late += other.late
        for key, count in other.corrections.items():
            self.corrections[key] = self.corrections.get(key, 0) + count


@dataclass(frozen=True, slots=True)
class ProcessingSettings:
    """Tunables of the per-partition processing."""

    lateness_ms: int = 5_000  # reorder window of the canonical log
    order_retention_ms: int = 24 * HOUR_MS  # keep finished orders this long (event time)
    tombstone_ms: int = 7 * 24 * HOUR_MS  # remember evicted order ids this long


class PartitionProcessor:
    """Folds one raw partition into order state, fills and positions."""

    def __init__(self, topic: str, partition: int, settings: ProcessingSettings) -> None:
        from pipeline.streams.reorder import ReorderBuffer

        self.topic = topic
        self.partition = partition
        self.settings = settings
        self.book = TradingBook(tombstone_ms=settings.tombstone_ms)
        self.reorder: ReorderBuffer[tuple[OrderEvent, bool, int]] = ReorderBuffer(
            settings.lateness_ms
        )
        self.next_offset = 0  # the offset after the last record processed
        self.last_record: RawRecord | None = None  # the record at next_offset - 1
        # Its fingerprint when the state was restored from a checkpoint (no record at hand).
        self.last_fingerprint: str | None = None
        # Added to raw offsets to version `order_events` rows, and to the versions of order
        # states, fills and positions: grows by `EPOCH_SPAN` each time the state moves onto a
        # new incarnation of the topic (offsets start again at 0; see `ProcessedBatch`).
        self.version_base = 0
        self._last_eviction = 0
        self._evict_at = 0  # the event time at which the watermark reaches the next eviction
        # final orders settled for MISSING_FILLS_GRACE_MS that lack fills, as of the last
        # eviction pass (TradingBook.final_orders_missing_fills)
        self.missing_fills = 0

    def process(self, records: Iterable[RawRecord], now_ms: int) -> ProcessedBatch:
        """Fold `records` (in offset order); `now_ms` only stamps dead letters."""
        batch = ProcessedBatch(version_base=self.version_base)
        book_apply = self.book.apply
        reorder_push = self.reorder.push
        events_out = batch.events
        orders, positions, fills = batch.orders, batch.positions, batch.fills
        reorder = self.reorder
        base = self.version_base
        book = self.book
        snapshot_corrections, stream_corrections = (
            book.snapshot_corrections,
            book.stream_corrections,
        )
        record = None
        for record in records:
            batch.records += 1
            self.next_offset = record.offset + 1
            try:
                envelope = decode_envelope(record.value or b"")
                events = venues.normalizer_for(envelope.venue).normalize(envelope)
            except BadInputError as exc:
                batch.dead_letters.append(self._dead_letter(record, exc.reason, str(exc), now_ms))
                continue
            except Exception as exc:  # a normalizer bug must not stop the partition
                log.exception("normalizer failed on %s:%d@%d", record.topic, record.partition,
                              record.offset)  # fmt: skip
                detail = f"{type(exc).__name__}: {exc}"
                batch.dead_letters.append(
                    self._dead_letter(record, "normalizer_error", detail, now_ms)
                )
                continue
            for event in events:
                batch.normalized += 1
                try:
                    outputs = book_apply(event)
                except DomainError as exc:
                    batch.dead_letters.append(
                        self._dead_letter(record, "illegal_event", str(exc), now_ms)
                    )
                    continue
                except Exception as exc:  # a fold bug must not stop the partition either
                    log.exception("fold failed on event %s", event.event_id)
                    detail = f"{type(exc).__name__}: {exc}"
                    batch.dead_letters.append(
                        self._dead_letter(record, "fold_error", detail, now_ms)
                    )
                    continue
                if not outputs:
                    batch.duplicates += 1
                    continue
                version = 1
                for output in outputs:
                    if isinstance(output, OrderState):
                        orders[output.key] = output
                        version = output.version
                    elif isinstance(output, Position):
                        positions[output.key] = output
                    else:
                        fills.append((output, version))
                offset = record.offset + base
                if reorder_push(event.event_time, event.event_id, (event, False, offset)):
                    batch.late += 1
                    events_out.append((event, True, offset))
                elif reorder.max_event_time >= self._evict_at:
                    self._evict()
        if record is not None:
            self.last_record = record
        if book.snapshot_corrections != snapshot_corrections:
            batch.corrections[self._venue, "snapshot"] = (
                book.snapshot_corrections - snapshot_corrections
            )
        if book.stream_corrections != stream_corrections:
            batch.corrections[self._venue, "stream"] = book.stream_corrections - stream_corrections
        events_out.extend(reorder.drain())
        return batch

    @property
    def _venue(self) -> str:
        return self.topic.removeprefix("raw.")

    def flush(self) -> list[tuple[OrderEvent, bool, int]]:
        """Release every buffered canonical event (the partition went idle, or shutdown)."""
        return self.reorder.flush()

    def _evict(self) -> None:
        """Evict once the watermark is a minute past the last eviction.

        Checked after each event (not each batch), so that eviction happens at the same event
        however the records were batched: a restored checkpoint and an uninterrupted run
        evict the very same orders.
        """
        watermark = self.reorder.watermark
        if watermark - self._last_eviction >= EVICT_EVERY_MS:
            self._last_eviction = watermark
            self.book.evict(watermark, self.settings.order_retention_ms)
            self.missing_fills = self.book.final_orders_missing_fills(
                watermark - MISSING_FILLS_GRACE_MS
            )
        self._evict_at = self._last_eviction + EVICT_EVERY_MS + self.reorder.lateness_ms

    def _dead_letter(self, record: RawRecord, reason: str, detail: str, now_ms: int) -> DeadLetter:
        venue = self.topic.removeprefix("raw.") if self.topic.startswith("raw.") else ""
        value = record.value
        if value is not None and len(value) > DEAD_LETTER_RAW_BYTES:
            # A raw record may be as large as the raw topics allow (kafka.MAX_MESSAGE_BYTES);
            # its dead letter, base64 and all, must still fit pipeline.dlq, or the worker
            # would be refused that output forever. The whole record stays on its topic.
            detail = (
                f"{detail[:1500]} (raw value cut to its first {DEAD_LETTER_RAW_BYTES} of "
                f"{len(value)} bytes; the whole record is {record.topic}:{record.partition}:"
                f"{record.offset})"
            )
            value = value[:DEAD_LETTER_RAW_BYTES]
        return DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            venue=venue,
            reason=reason,
            detail=detail[:2000],
            raw_key=_text(record.key)[:1024],
            raw_value=_text(value),
            failed_at=now_ms,
        )
