"""Checkpointed processor state: a restored processor carries on exactly as an uninterrupted
one, whatever the cut and the batching; the encoding refuses what it cannot read."""

from __future__ import annotations

import hashlib
import zlib

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_data import POISON, disordered, scenario_envelopes
from stream_helpers import TEST_PROCESSING

from pipeline.errors import CheckpointError
from pipeline.streams.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    FileCheckpoints,
    decode,
    encode,
)
from pipeline.streams.outputs import batch_messages
from pipeline.streams.processor import FileRecord, PartitionProcessor, ProcessingSettings
from pipeline.streams.state import (
    STATE_VERSION,
    StateWriter,
    processor_state,
    restore_processor,
)

# Short retention: eviction, tombstones and position compaction all happen inside the
# recorded flow (it spans years of event time), so they are part of what must survive.
SHORT = ProcessingSettings(lateness_ms=5_000, order_retention_ms=3_600_000, tombstone_ms=7_200_000)


def _records(seed: int) -> list[FileRecord]:
    items = [(k, e.encode()) for k, e in disordered(scenario_envelopes(), seed=seed)]
    items[len(items) // 3 : len(items) // 3] = [(k, v) for k, v, _ in POISON]
    return [
        FileRecord("raw.all", 0, offset, key, value) for offset, (key, value) in enumerate(items)
    ]


def _run(processor: PartitionProcessor, records: list[FileRecord], size: int) -> list[bytes]:
    """Process `records` in batches of `size`; every batch's outputs, serialized."""
    out = []
    for start in range(0, len(records), size):
        batch = processor.process(records[start : start + size], now_ms=7)
        messages = {
            topic: [(key.decode(), value) for key, value in items]
            for topic, items in batch_messages(batch).items()
        }
        out.append(orjson.dumps(messages, option=orjson.OPT_SORT_KEYS))
    return out


def _through_bytes(
    processor: PartitionProcessor, settings: ProcessingSettings
) -> PartitionProcessor:
    """What a checkpoint holds, via its encoding: the restored processor."""
    checkpoint = Checkpoint(
        "g", "raw.all", 0, processor.next_offset, None, 1, processor_state(processor)
    )
    return restore_processor(decode(encode(checkpoint), "test").body, settings)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    cut=st.floats(0, 1),
    size=st.integers(1, 40),
    short=st.booleans(),
)
def test_restored_processor_continues_exactly_like_an_uninterrupted_one(
    seed: int, cut: float, size: int, short: bool
) -> None:
    settings_ = SHORT if short else TEST_PROCESSING
    records = _records(seed)
    at = int(cut * len(records))
    whole = PartitionProcessor("raw.all", 0, settings_)
    head = _run(whole, records[:at], size)
    tail = _run(whole, records[at:], size)

    first = PartitionProcessor("raw.all", 0, settings_)
    assert _run(first, records[:at], size) == head
    restored = _through_bytes(first, settings_)
    assert restored.next_offset == at
    assert _run(restored, records[at:], size) == tail
    assert processor_state(restored) == processor_state(whole)
    assert restored.flush() == whole.flush()


@pytest.mark.parametrize("sizes", [(1, 5000), (3, 17), (64, 1)])
def test_processor_state_does_not_depend_on_how_records_were_batched(
    sizes: tuple[int, int],
) -> None:
    records = _records(seed=3)
    states = []
    for size in sizes:
        processor = PartitionProcessor("raw.all", 0, SHORT)
        _run(processor, records, size)
        states.append(processor_state(processor))
    assert states[0] == states[1]
    assert states[0]["evicted"], "the short retention must have evicted orders in this flow"


def test_checkpoint_of_another_format_version_is_refused_naming_the_file(tmp_path) -> None:
    processor = PartitionProcessor("raw.all", 0, TEST_PROCESSING)
    _run(processor, _records(seed=1)[:50], 10)
    data = encode(Checkpoint("g", "raw.all", 0, 50, "f", 1, processor_state(processor)))
    header, _, body = data.partition(b"\n")
    old = orjson.loads(header)
    old["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(
        CheckpointError, match=rf"ckpt-file has checkpoint format version {FORMAT_VERSION + 1}"
    ):
        decode(orjson.dumps(old) + b"\n" + body, "ckpt-file")
    with pytest.raises(CheckpointError, match="is damaged"):
        decode(data[:-3] + b"xyz", "ckpt-file")
    with pytest.raises(CheckpointError, match="is not a pipeline-checkpoint file"):
        decode(b"PK\x03\x04 something else", "ckpt-file")
    state = processor_state(processor)
    state["state_version"] = STATE_VERSION - 1
    with pytest.raises(CheckpointError, match="state version 0"):
        restore_processor(state, TEST_PROCESSING)


def _version_1(checkpoint: Checkpoint) -> bytes:
    """The checkpoint as the release before wrote it: format version 1, a zlib body."""
    body = zlib.compress(orjson.dumps(checkpoint.body), 1)
    header = {
        "format": "pipeline-checkpoint", "format_version": 1, "group": checkpoint.group,
        "topic": checkpoint.topic, "partition": checkpoint.partition,
        "offset": checkpoint.offset, "fingerprint": checkpoint.fingerprint,
        "written_at": checkpoint.written_at, "body_sha256": hashlib.sha256(body).hexdigest(),
    }  # fmt: skip
    return orjson.dumps(header) + b"\n" + body


async def test_a_version_1_checkpoint_is_restored_and_the_next_one_written_as_version_2(
    tmp_path,
) -> None:
    records = _records(seed=4)
    processor = PartitionProcessor("raw.all", 0, SHORT)
    _run(processor, records[:60], 7)
    checkpoint = Checkpoint("g", "raw.all", 0, 60, "f", 1, processor_state(processor))
    store = FileCheckpoints(tmp_path)
    path = store.path("g", "raw.all", 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(_version_1(checkpoint))
    assert await store.digest("g", "raw.all", 0) is not None

    loaded = await store.load("g", "raw.all", 0)
    assert loaded is not None
    assert loaded.body == checkpoint.body
    assert loaded.offset == 60
    restored = restore_processor(loaded.body, SHORT, trusted=True)
    assert processor_state(restored) == processor_state(processor)
    rest_restored = _run(restored, records[60:], 9)
    assert rest_restored == _run(processor, records[60:], 9)

    await store.save(Checkpoint("g", "raw.all", 0, len(records), "f", 2,
                                processor_state(restored)))  # fmt: skip
    header = orjson.loads(path.read_bytes().partition(b"\n")[0])
    assert header["format_version"] == FORMAT_VERSION == 2
    again = await store.load("g", "raw.all", 0)
    assert again is not None
    assert again.body == processor_state(processor)


async def test_file_checkpoints_replace_atomically_and_load_the_latest(tmp_path) -> None:
    store = FileCheckpoints(tmp_path / "ckpt")
    assert await store.load("g", "raw.upbit", 3) is None
    for offset in (10, 20):
        await store.save(Checkpoint("g", "raw.upbit", 3, offset, "fp", offset, {"n": offset}))
    loaded = await store.load("g", "raw.upbit", 3)
    assert loaded is not None
    assert (loaded.offset, loaded.body) == (20, {"n": 20})
    files = sorted(p.name for p in (tmp_path / "ckpt" / "g").iterdir())
    assert files == ["raw.upbit-3.ckpt"]  # no temporary file left behind
    store.path("g", "raw.upbit", 3).write_bytes(b"garbage\n")
    with pytest.raises(CheckpointError, match=r"raw\.upbit-3\.ckpt is not a pipeline-checkpoint"):
        await store.load("g", "raw.upbit", 3)


async def test_covered_until_is_the_oldest_partition_mark_per_topic(tmp_path) -> None:
    store = FileCheckpoints(tmp_path / "ckpt")
    await store.mark_covered("pipeline-processor", "raw.upbit", 0, 5_000)
    await store.mark_covered("pipeline-processor", "raw.upbit", 1, 3_000)
    await store.mark_covered("pipeline-processor", "raw.upbit", 1, 4_000)  # replaces
    await store.mark_covered("pipeline-processor", "raw.binance", 2, 9_000)
    await store.mark_covered("other-group", "raw.ssi", 0, 1)
    covered = store.covered_until("pipeline-processor", ["raw.upbit", "raw.binance", "raw.ssi"])
    assert covered == {"raw.upbit": 4_000, "raw.binance": 9_000}


@pytest.mark.parametrize(("seed", "short"), [(1, True), (2, False), (3, True)])
def test_trusted_restore_builds_the_very_state_the_validating_one_does(
    seed: int, short: bool
) -> None:
    settings_ = SHORT if short else TEST_PROCESSING
    records = _records(seed)
    processor = PartitionProcessor("raw.all", 0, settings_)
    _run(processor, records[: len(records) * 2 // 3], 25)
    state = processor_state(processor)
    body = decode(
        encode(Checkpoint("g", "raw.all", 0, processor.next_offset, None, 1, state)), "t"
    ).body
    checked = restore_processor(body, settings_)
    trusted = restore_processor(body, settings_, trusted=True)
    assert processor_state(trusted) == processor_state(checked) == body
    rest = records[len(records) * 2 // 3 :]
    assert _run(trusted, rest, 25) == _run(checked, rest, 25)
    assert trusted.flush() == checked.flush()


def _malformed(state: dict, where: str, value: object) -> dict:
    """`state` with one field of its first order's first event (or of a position's first
    fill) replaced (`value` None: removed)."""
    state = orjson.loads(orjson.dumps(state))
    if where.startswith("fill."):
        target = next(p for p in state["positions"] if p["fills"])["fills"][0]
        name = where.removeprefix("fill.")
    else:
        target = state["orders"][0][3][0]
        name = where
    if value is None:
        del target[name]
    else:
        target[name] = value
    return state


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("event_id", None),  # missing
        ("event_id", 17),  # not a str
        ("status", "lost"),  # not a known status
        ("side", ["buy"]),  # not even hashable
        ("qty", "1.2.3"),  # not a decimal
        ("qty", "NaN"),  # not finite
        ("qty", True),
        ("event_time", "soon"),
        ("is_snapshot", "yes"),
        ("fill", [1, 2]),
        ("fill.price", None),
        ("fill.qty", "Infinity"),
        ("fill.liquidity", "both"),
        ("fill.trade_time", 1.5),
    ],
)
@pytest.mark.parametrize("trusted", [False, True])
def test_restore_refuses_a_malformed_body_on_either_path(
    where: str, value: object, trusted: bool
) -> None:
    processor = PartitionProcessor("raw.all", 0, SHORT)
    _run(processor, _records(seed=4), 50)
    state = processor_state(processor)
    assert restore_processor(state, SHORT, trusted=trusted) is not None
    with pytest.raises(CheckpointError, match="processor state is malformed"):
        restore_processor(_malformed(state, where, value), SHORT, trusted=trusted)


async def test_file_checkpoints_name_each_checkpoint_by_its_body_digest(tmp_path) -> None:
    store = FileCheckpoints(tmp_path / "ckpt")
    assert await store.digest("g", "raw.upbit", 1) is None
    first = await store.save(Checkpoint("g", "raw.upbit", 1, 10, "fp", 10, {"n": 10}))
    loaded = await store.load("g", "raw.upbit", 1)
    assert loaded is not None
    assert loaded.digest == first == await store.digest("g", "raw.upbit", 1)
    # the same body written again (another time, same state): the same digest
    assert await store.save(Checkpoint("g", "raw.upbit", 1, 10, "fp", 99, {"n": 10})) == first
    second = await store.save(Checkpoint("g", "raw.upbit", 1, 10, "fp", 99, {"n": 11}))
    assert second != first
    assert await store.digest("g", "raw.upbit", 1) == second
    store.path("g", "raw.upbit", 1).write_bytes(b"garbage\n")
    assert await store.digest("g", "raw.upbit", 1) is None


@pytest.mark.parametrize("short", [True, False])
def test_state_writer_encodes_every_successive_checkpoint_as_processor_state_does(
    short: bool,
) -> None:
    """The cached bodies (orders and fills serialized once, reused while unchanged) give
    the very bytes, hence the very digest, at every cut: orders added, filled, evicted."""
    settings_ = SHORT if short else TEST_PROCESSING
    records = _records(seed=8)
    processor = PartitionProcessor("raw.all", 0, settings_)
    writer = StateWriter()

    def encoded(body: dict) -> bytes:
        return encode(Checkpoint("g", "raw.all", 0, processor.next_offset, None, 1, body))

    for start in range(0, len(records), 37):
        processor.process(records[start : start + 37], now_ms=7)
        assert encoded(writer.state(processor)) == encoded(processor_state(processor))
        if start % 5 == 0:  # and once more with nothing new: everything from the cache
            assert encoded(writer.state(processor)) == encoded(processor_state(processor))
    processor.flush()
    assert encoded(writer.state(processor)) == encoded(processor_state(processor))
