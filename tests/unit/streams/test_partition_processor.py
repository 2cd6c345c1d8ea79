"""The per-partition processor, with plain records and no broker."""

from __future__ import annotations

import orjson
from scenario_data import POISON, disordered, scenario_envelopes
from stream_helpers import TEST_PROCESSING

from pipeline.streams.outputs import batch_messages
from pipeline.streams.processor import FileRecord, PartitionProcessor, ProcessingSettings


def _records(items: list[tuple[bytes, bytes]], topic: str = "raw.upbit") -> list[FileRecord]:
    return [FileRecord(topic, 0, offset, key, value) for offset, (key, value) in enumerate(items)]


def _final_states(processor: PartitionProcessor) -> dict:
    return {s.key: (s.status, s.filled_qty, s.version) for s in processor.book.orders()}


def test_processor_poison_records_become_dead_letters_and_processing_continues() -> None:
    good = [(k, e.encode()) for k, e in scenario_envelopes() if e.venue == "upbit"][:3]
    items = [good[0], *[(k, v) for k, v, _ in POISON], *good[1:]]
    processor = PartitionProcessor("raw.upbit", 0, ProcessingSettings())
    batch = processor.process(_records(items), now_ms=123)
    assert [d.reason for d in batch.dead_letters] == [r for _, _, r in POISON]
    assert [d.source_offset for d in batch.dead_letters] == [1, 2, 3, 4]
    assert batch.dead_letters[0].raw_value == POISON[0][1].decode()
    assert batch.dead_letters[0].failed_at == 123
    assert batch.normalized >= 3
    assert processor.next_offset == len(items)


def test_processor_non_utf8_record_is_kept_as_base64() -> None:
    processor = PartitionProcessor("raw.ssi", 0, ProcessingSettings())
    batch = processor.process(_records([(b"k", b"\xff\xfe")], "raw.ssi"), now_ms=1)
    assert batch.dead_letters[0].raw_value == "base64://4="
    assert batch.dead_letters[0].venue == "ssi"


def test_processor_duplicates_and_arrival_order_do_not_change_the_state() -> None:
    envelopes = scenario_envelopes()
    ordered = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    ordered.process(_records([(k, e.encode()) for k, e in envelopes]), now_ms=0)
    shuffled = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    batch = shuffled.process(
        _records([(k, e.encode()) for k, e in disordered(envelopes)]), now_ms=0
    )
    assert batch.duplicates > 0
    assert _final_states(shuffled) == _final_states(ordered)


def test_processor_batch_collapses_state_to_latest_per_key_and_versions_fills() -> None:
    envelopes = [(k, e.encode()) for k, e in scenario_envelopes() if e.venue == "upbit"]
    processor = PartitionProcessor("raw.upbit", 0, TEST_PROCESSING)
    batch = processor.process(_records(envelopes), now_ms=0)
    messages = batch_messages(batch)
    state_keys = [key for key, _ in messages["orders.state"]]
    assert len(state_keys) == len(set(state_keys))  # one (latest) state per order
    for key, value in messages["orders.state"]:
        assert key == "|".join((value["venue"], value["account"], value["order_id"])).encode()
    assert all(value["version"] >= 1 for _, value in messages["fills"])
    assert all(isinstance(value["late"], bool) for _, value in messages["orders.events"])
    assert orjson.loads(orjson.dumps(messages["positions.state"][0][1]))["qty"]


def test_processor_replaying_the_same_records_rebuilds_the_same_state() -> None:
    items = [(k, e.encode()) for k, e in disordered(scenario_envelopes(), seed=3)]
    first = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    first.process(_records(items[:50]), now_ms=0)
    first.process(_records(items)[50:], now_ms=0)
    again = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    again.process(_records(items), now_ms=0)
    assert _final_states(first) == _final_states(again)
    assert len(first.reorder) == len(again.reorder)


def test_processor_evicts_finished_orders_after_the_retention_by_event_time() -> None:
    envelopes = [(k, e.encode()) for k, e in scenario_envelopes()]
    processor = PartitionProcessor(
        "raw.all", 0, ProcessingSettings(lateness_ms=0, order_retention_ms=3_600_000)
    )
    processor.process(_records(envelopes), now_ms=0)
    kept = processor.book.order_count
    unbounded = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    unbounded.process(_records(envelopes), now_ms=0)
    assert kept < unbounded.book.order_count  # the flow spans years: old finished orders go


def test_processor_normalizer_crash_becomes_a_dead_letter_and_the_stream_goes_on(
    monkeypatch,
) -> None:
    from pipeline.venues import registry

    class Exploding:
        venue = "upbit"

        def normalize(self, envelope):
            raise TypeError("unhashable type: 'list'")

    good = [(k, e.encode()) for k, e in scenario_envelopes() if e.venue == "binance"][:2]
    bad = [(k, e.encode()) for k, e in scenario_envelopes() if e.venue == "upbit"][:1]
    monkeypatch.setitem(registry._normalizers, "upbit", Exploding())
    processor = PartitionProcessor("raw.mixed", 0, ProcessingSettings())
    batch = processor.process(_records([good[0], bad[0], good[1]]), now_ms=5)
    assert [d.reason for d in batch.dead_letters] == ["normalizer_error"]
    assert "TypeError" in batch.dead_letters[0].detail
    assert batch.dead_letters[0].source_offset == 1
    assert batch.normalized >= 2  # the records around it were processed


def test_a_dead_letter_of_a_huge_record_keeps_its_start_and_says_where_the_rest_is() -> None:
    """A raw record may be up to 32 MiB; its dead letter (base64 of it, for bytes that are
    not UTF-8) must still fit pipeline.dlq, so it keeps the first MiB and names the record."""
    from pipeline.kafka import MAX_MESSAGE_BYTES
    from pipeline.streams.processor import DEAD_LETTER_RAW_BYTES

    huge = b"\xff" + b"x" * (20 * 1024 * 1024)
    processor = PartitionProcessor("raw.ssi", 0, ProcessingSettings())
    batch = processor.process(_records([(b"k", huge)], "raw.ssi"), now_ms=1)
    letter = batch.dead_letters[0]
    assert len(orjson.dumps(letter.to_dict())) < MAX_MESSAGE_BYTES // 8
    assert letter.raw_value.startswith("base64:/3h4")  # the record's own first bytes
    assert f"first {DEAD_LETTER_RAW_BYTES} of {len(huge)} bytes" in letter.detail
    assert "raw.ssi:0:0" in letter.detail
