"""A fetch folded and delivered a slice at a time (so the event loop runs between slices)
gives the outputs and the state one call gives."""

from __future__ import annotations

import orjson
from scenario_data import disordered, scenario_envelopes
from stream_helpers import TEST_PROCESSING, TEST_SETTINGS

from pipeline.streams.outputs import batch_messages, split_batch
from pipeline.streams.process_worker import ProcessWorker
from pipeline.streams.processor import FileRecord, PartitionProcessor, ProcessedBatch


def _records() -> list[FileRecord]:
    items = [(k, e.encode()) for k, e in disordered(scenario_envelopes(), seed=5)]
    return [FileRecord("raw.all", 0, offset, key, value) for offset, (key, value) in
            enumerate(items)]  # fmt: skip


def _messages(batches: list[ProcessedBatch]) -> dict[str, list[tuple[bytes, bytes]]]:
    """Every batch's messages per topic, in emission order, values as bytes."""
    out: dict[str, list[tuple[bytes, bytes]]] = {}
    for batch in batches:
        for topic, items in batch_messages(batch).items():
            out.setdefault(topic, []).extend((key, orjson.dumps(value)) for key, value in items)
    return out


def _states(processor: PartitionProcessor) -> list:
    return sorted((s.key, s.status, s.filled_qty, s.version) for s in processor.book.orders())


async def test_a_fetch_folded_in_slices_gives_what_one_call_gives() -> None:
    records = _records()
    assert len(records) > 40
    whole = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    expected = _messages([whole.process(records, now_ms=0)])

    worker = ProcessWorker("127.0.0.1:1", TEST_SETTINGS, TEST_PROCESSING)
    worker.fold_chunk = 7
    sliced = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    got = _messages([await worker._fold(sliced, records, now_ms=0)])

    assert _states(sliced) == _states(whole)
    assert sliced.next_offset == whole.next_offset == len(records)
    assert len(sliced.reorder) == len(whole.reorder)
    assert set(got) == set(expected)
    for topic in expected:
        # the same messages; a canonical event released at a slice's end rather than the
        # fetch's may come earlier in the list (each carries its own version: its offset)
        assert sorted(got[topic]) == sorted(expected[topic]), topic
    # order and position states still collapse over the whole fetch, not per slice
    keys = [key for key, _ in got["orders.state"]]
    assert len(keys) == len(set(keys))


def test_split_batch_cuts_a_batch_into_slices_whose_messages_are_the_whole_ones() -> None:
    processor = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    batch = processor.process(_records(), now_ms=0)
    batch.events.extend(processor.flush())
    pieces = list(split_batch(batch, 4))
    assert len(pieces) > 2
    for piece in pieces:
        assert max(len(piece.events), len(piece.fills), len(piece.orders),
                   len(piece.positions)) <= 4  # fmt: skip
        assert piece.version_base == batch.version_base
    assert _messages(pieces) == _messages([batch])  # same messages, same order per topic
    assert list(split_batch(batch, 10**6)) == [batch]
