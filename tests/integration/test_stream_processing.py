"""Raw topics -> workers -> ClickHouse, on a real Tansu broker and a real chDB store.

The oracle is DESIGN §4: the tables must equal what applying the distinct events, sorted by
venue event time, gives, however the raw records arrive (duplicated, shuffled, split over
partitions and workers), and poison records must land in dead_letters without stopping the
stream.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from scenario_data import POISON, disordered, scenario_envelopes
from stream_helpers import (
    COLUMNS,
    TEST_PROCESSING,
    TEST_SETTINGS,
    as_records,
    assert_same_rows,
    count,
    expected_state,
    produce,
    run_until,
    table_rows,
)

from pipeline.kafka import ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.sink.store import Store
from pipeline.streams.process_worker import ProcessWorker
from pipeline.streams.replay import replay_file, replay_topics
from pipeline.streams.sink_worker import SinkWorker

SCENARIO = scenario_envelopes()
EXPECTED = expected_state(SCENARIO)


def _poison_records() -> list[tuple[bytes, bytes, str]]:
    return [(key, value, "upbit") for key, value, _reason in POISON]


def _complete(store: Store) -> bool:
    return (
        count(store, "orders") >= len(EXPECTED["orders"])
        and count(store, "positions") >= len(EXPECTED["positions"])
        and count(store, "order_events") >= len(EXPECTED["event_ids"])
        and count(store, "dead_letters") >= len(POISON)
    )


def _assert_tables_match_oracle(store: Store) -> None:
    for table in ("orders", "positions", "fills"):
        assert_same_rows(table_rows(store, table, COLUMNS[table]), EXPECTED[table], table)
    events = table_rows(store, "order_events", COLUMNS["order_events"])
    assert_same_rows(events, EXPECTED["events"], "order_events")


async def _stream(bootstrap: str, store: Store, process_workers: int = 1) -> list[ProcessWorker]:
    await ensure_topics(bootstrap, partitions=4)
    await produce(bootstrap, as_records(disordered(SCENARIO)) + _poison_records())
    workers = [
        ProcessWorker(bootstrap, TEST_SETTINGS, TEST_PROCESSING) for _ in range(process_workers)
    ]
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    await run_until([w.run for w in workers] + [sink.run], lambda: _complete(store))
    return workers


async def test_disordered_duplicated_multi_venue_stream_gives_exactly_the_oracle_tables(
    fresh_broker: TansuBroker, store: Store
) -> None:
    await _stream(fresh_broker.bootstrap, store)

    _assert_tables_match_oracle(store)
    # spot checks computed by hand from the recorded payloads
    upbit_limit = store.query(
        f"SELECT status, filled_qty, remaining_qty FROM {store.database}.orders FINAL "
        "WHERE order_id = '9ca023a5-851b-4fec-9f0a-48cd83c2eaae'"
    ).rows
    assert [(s, str(f.normalize()), str(r.normalize())) for s, f, r in upbit_limit] == [
        ("filled", "0.01", "0")
    ]
    letters = store.query(
        f"SELECT reason, raw_value FROM {store.database}.dead_letters ORDER BY source_offset"
    ).rows
    assert sorted(reason for reason, _ in letters) == sorted(r for _, _, r in POISON)
    assert {raw for _, raw in letters} == {value.decode() for _, value, _ in POISON}


async def test_replay_of_the_same_input_file_gives_identical_tables(
    fresh_broker: TansuBroker, store_factory, tmp_path: Path
) -> None:
    streamed = store_factory()
    await _stream(fresh_broker.bootstrap, streamed)

    path = tmp_path / "raw.jsonl"
    with path.open("wb") as handle:
        for _key, envelope in disordered(SCENARIO):
            handle.write(envelope.encode() + b"\n")
        for _key, value, _reason in POISON:
            handle.write(value + b"\n")
    replayed = store_factory()
    report = await asyncio.to_thread(replay_file, path, replayed, TEST_PROCESSING)

    assert report.dead_letters == len(POISON)
    for table in ("orders", "positions", "fills", "order_events"):
        assert table_rows(replayed, table, COLUMNS[table]) == table_rows(
            streamed, table, COLUMNS[table]
        ), table
    again = store_factory()
    await asyncio.to_thread(replay_file, path, again, TEST_PROCESSING)
    for table in ("orders", "positions", "fills", "order_events"):
        assert table_rows(again, table, COLUMNS[table]) == table_rows(
            replayed, table, COLUMNS[table]
        ), table


async def test_two_process_workers_in_one_group_split_partitions_and_match_one(
    fresh_broker: TansuBroker, store: Store
) -> None:
    workers = await _stream(fresh_broker.bootstrap, store, process_workers=2)

    assert all(w.stats.records > 0 for w in workers), [w.stats.records for w in workers]
    assert sum(w.stats.records for w in workers) >= len(SCENARIO)
    _assert_tables_match_oracle(store)


async def test_replay_from_topics_rebuilds_the_oracle_tables(
    fresh_broker: TansuBroker, store: Store
) -> None:
    await ensure_topics(fresh_broker.bootstrap, partitions=3)
    await produce(fresh_broker.bootstrap, as_records(disordered(SCENARIO)) + _poison_records())

    report = await replay_topics(fresh_broker.bootstrap, store, TEST_PROCESSING)

    assert report.records == len(disordered(SCENARIO)) + len(POISON)
    assert report.dead_letters == len(POISON)
    _assert_tables_match_oracle(store)


async def test_sink_store_outage_is_retried_and_commits_only_after_the_write(
    fresh_broker: TansuBroker, store: Store
) -> None:
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=2)
    await produce(bootstrap, as_records(disordered(SCENARIO)))
    db = store.database
    store.command(f"RENAME TABLE {db}.positions TO {db}.positions_away")  # the outage
    process = ProcessWorker(bootstrap, TEST_SETTINGS, TEST_PROCESSING)
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store, max_backoff_s=0.5)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(process.run(stop)), asyncio.create_task(sink.run(stop))]
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while sink.stats.retries < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
        assert sink.stats.retries >= 3, "the failing write was not retried"
        assert "positions" in sink.stats.last_error
        assert await _committed_total(bootstrap, "pipeline-sink") == 0  # nothing durable yet
        assert sink.stats.rows_written == 0  # one batch in flight, no buffering beyond it

        store.command(f"RENAME TABLE {db}.positions_away TO {db}.positions")  # recovery
        while not _complete_without_poison(store) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert await _committed_total(bootstrap, "pipeline-sink") > 0
    for table in ("orders", "positions", "fills"):
        assert_same_rows(table_rows(store, table, COLUMNS[table]), EXPECTED[table], table)


def _complete_without_poison(store: Store) -> bool:
    return count(store, "positions") >= len(EXPECTED["positions"]) and count(
        store, "orders"
    ) >= len(EXPECTED["orders"])


async def _committed_total(bootstrap: str, group: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from pipeline.streams.outputs import OUTPUT_TOPICS

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        total = 0
        for topic in OUTPUT_TOPICS:
            for partition in consumer.partitions_for_topic(topic) or ():
                total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()
