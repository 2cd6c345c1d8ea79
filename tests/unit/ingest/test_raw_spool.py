"""The embedded stack's raw spool: what is published is kept, whole, until checkpoints cover it,
and read back in publishing order from any time on (pipeline/ingest/spool.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.envelope import RawEnvelope, envelope_key
from pipeline.ingest.publisher import RawPublisher
from pipeline.ingest.spool import MARGIN_MS, SEGMENT_MS, RawSpool
from pipeline.ingest.stats import IngestStats

T0 = 1_767_225_600_000
TOPIC = "raw.upbit"


def _fill(spool: RawSpool, times: list[int]) -> list[tuple[bytes, bytes]]:
    records = []
    for n, at in enumerate(times):
        key, value = f"upbit|alice|KRW-BTC|{n}".encode(), f'{{"n": {n}}}'.encode()
        spool.append(TOPIC, key, value, at)
        records.append((key, value))
    return records


@settings(max_examples=30, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=SEGMENT_MS // 2), min_size=1, max_size=60),
    cut=st.integers(min_value=0, max_value=40 * SEGMENT_MS),
)
def test_since_returns_exactly_the_records_from_that_time_in_order(
    tmp_path_factory: object, gaps: list[int], cut: int
) -> None:
    directory = tmp_path_factory.mktemp("spool")  # type: ignore[attr-defined]
    times, at = [], T0
    for gap in gaps:
        at += gap
        times.append(at)
    spool = RawSpool(directory)
    records = _fill(spool, times)
    spool.close()
    since = T0 + cut
    expected = [r for r, t in zip(records, times, strict=True) if t >= since]
    assert list(RawSpool(directory).since(TOPIC, since)) == expected


def test_prune_drops_only_segments_the_checkpoints_cover(tmp_path: Path) -> None:
    spool = RawSpool(tmp_path)
    times = [T0 + i * 10_000 for i in range(40)]  # 400 s: seven segments
    records = _fill(spool, times)
    covered = T0 + 250_000
    removed = spool.prune({TOPIC: covered})
    assert removed > 0
    kept = list(spool.since(TOPIC, 0))
    must_keep = [r for r, t in zip(records, times, strict=True) if t >= covered - MARGIN_MS]
    assert kept[-len(must_keep) :] == must_keep  # all that is not covered is still there
    assert len(kept) < len(records)  # and the covered past is gone
    spool.append(TOPIC, b"k", b'{"after": 1}', times[-1] + 1)  # the open segment still works
    assert list(spool.since(TOPIC, times[-1] + 1)) == [(b"k", b'{"after": 1}')]


def test_a_line_cut_short_by_a_kill_is_skipped_and_a_damaged_one_logged(
    tmp_path: Path, caplog: object
) -> None:
    spool = RawSpool(tmp_path)
    records = _fill(spool, [T0, T0 + 1])
    spool.close()
    segment = next((tmp_path / TOPIC).iterdir())
    with segment.open("ab") as handle:
        handle.write(b"not a record\n")
        handle.write(b'[1767225600005, "k", "{\\"n\\": 9')  # the kill came mid-write
    assert list(RawSpool(tmp_path).since(TOPIC, 0)) == records
    assert "is not a spooled record" in caplog.text  # type: ignore[attr-defined]


def test_the_publisher_spools_every_envelope_before_queueing_it(tmp_path: Path) -> None:
    spool = RawSpool(tmp_path)
    publisher = RawPublisher("unused:1", IngestStats(), spool=spool)
    envelope = RawEnvelope("upbit", "alice", "myOrder", T0, {"code": "KRW-BTC", "n": 1})
    asyncio.run(publisher.publish(envelope, "KRW-BTC"))
    assert publisher.queue.qsize() == 1
    key = envelope_key("upbit", "alice", "KRW-BTC")
    assert list(spool.since(TOPIC, T0)) == [(key, envelope.encode())]
