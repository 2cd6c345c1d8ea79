"""The bench's generated flow: real venue formats, reproducible, and an expected result that
the pipeline's own fold reaches (so a bench run's correctness check is meaningful)."""

from __future__ import annotations

from collections import Counter

from pipeline.bench.flow import VENUES, generate
from pipeline.streams.processor import FileRecord, PartitionProcessor, ProcessingSettings


def test_generate_same_seed_gives_the_same_records() -> None:
    assert generate(3000, seed=5).records == generate(3000, seed=5).records
    assert generate(3000, seed=5).records != generate(3000, seed=6).records


def test_generate_covers_every_venue_with_duplicates_and_reordering() -> None:
    flow = generate(5000)
    assert 4900 <= len(flow.records) <= 5200
    assert {topic for topic, _key, _value in flow.records} == {f"raw.{v}" for v in VENUES}
    assert 0.03 < flow.duplicates / len(flow.records) < 0.07
    assert 0.03 < flow.reordered / len(flow.records) < 0.07
    values = Counter(value for _topic, _key, value in flow.records)
    assert sum(n - 1 for n in values.values()) >= flow.duplicates  # copies really delivered
    statuses = Counter(order.status for order in flow.expected.orders.values())
    assert {"filled", "canceled", "partially_filled", "open"} <= set(statuses)


def test_generated_flow_folds_to_the_expected_result_without_dead_letters() -> None:
    flow = generate(6000, seed=3)
    processors: dict[str, PartitionProcessor] = {}
    letters = []
    for offset, (topic, key, value) in enumerate(flow.records):
        processor = processors.setdefault(topic, PartitionProcessor(topic, 0, ProcessingSettings()))
        letters += processor.process([FileRecord(topic, 0, offset, key, value)], 0).dead_letters
    assert letters == []
    orders = {
        (s.venue, s.account, s.order_id): (s.status.value, s.filled_qty)
        for p in processors.values()
        for s in p.book.orders()
    }
    want = {key: (o.status, o.filled_qty) for key, o in flow.expected.orders.items()}
    assert orders == want
    positions = {
        (q.venue, q.account, q.symbol): (q.qty, q.fill_count)
        for p in processors.values()
        for q in p.book.positions()
    }
    assert positions == flow.expected.positions
