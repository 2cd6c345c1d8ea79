"""Checkpointed processing on a real Tansu broker and chDB: crashes at the instants that
matter, raw history that is gone, a broker that starts empty under a kept store.

The oracle is DESIGN §4 (the distinct events folded in event-time order). Every test compares
whole tables with it, checks that no key has two rows under FINAL, and that no key's version
in the store went backwards across a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from scenario_data import disordered, scenario_envelopes
from stream_helpers import (
    COLUMNS,
    TEST_PROCESSING,
    TEST_SETTINGS,
    as_records,
    assert_same_rows,
    count,
    expected_state,
    produce,
    table_rows,
)

from pipeline.envelope import envelope_key
from pipeline.kafka import ensure_topics, raw_topic
from pipeline.local.broker import TansuBroker
from pipeline.sink.store import Store
from pipeline.streams.checkpoint import FileCheckpoints
from pipeline.streams.process_worker import ProcessWorker
from pipeline.streams.processor import EPOCH_SPAN
from pipeline.streams.sink_worker import SinkWorker

COPIES = 12  # accounts replaying the recorded flow: about a thousand raw records


def _scenario() -> list:
    out = []
    for key, envelope in scenario_envelopes():
        if envelope.venue in ("ssi", "futures_gateway"):  # the account is in the payload
            out.append((key, envelope))
            continue
        symbol = key.decode().rsplit("|", 1)[1]
        for i in range(COPIES):
            account = f"desk-{i}"
            out.append(
                (envelope_key(envelope.venue, account, symbol), replace(envelope, account=account))
            )
    return out


SCENARIO = _scenario()
EXPECTED = expected_state(SCENARIO)
TABLE_KEYS = {
    "orders": "venue, account, order_id",
    "positions": "venue, account, symbol",
    "fills": "venue, account, symbol, trade_id, order_id",
    "order_events": "venue, account, order_id, event_id",
}


class SimulatedCrash(Exception):
    """Raised by the crash hook: the worker dies at that instant, nothing after runs."""


def _crash_at(point: str, after: int) -> object:
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] == after:
                raise SimulatedCrash(f"{point} #{after}")

    return hook


def _process(bootstrap: str, checkpoints: Path, group: str, **kw: object) -> ProcessWorker:
    return ProcessWorker(
        bootstrap, TEST_SETTINGS, TEST_PROCESSING, group_id=group,
        checkpoints=FileCheckpoints(checkpoints), checkpoint_records=25,
        checkpoint_interval_s=0.5, max_records=40, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _complete(store: Store) -> bool:
    return (
        count(store, "orders") >= len(EXPECTED["orders"])
        and count(store, "positions") >= len(EXPECTED["positions"])
        and count(store, "order_events") >= len(EXPECTED["event_ids"])
    )


def _versions(store: Store) -> dict[str, dict[tuple, int]]:
    out = {}
    for table in ("orders", "positions"):
        rows = store.query(
            f"SELECT {TABLE_KEYS[table]}, version FROM {store.database}.{table} FINAL"
        ).rows
        out[table] = {tuple(row[:-1]): row[-1] for row in rows}
    return out


def _assert_oracle(store: Store, epochs: bool = False) -> None:
    """Whole tables equal the oracle's; with `epochs` (the state lived on a new topic
    incarnation) versions are compared within their epoch (`version % EPOCH_SPAN`)."""
    for table in ("orders", "positions", "fills"):
        rows = table_rows(store, table, COLUMNS[table])
        if epochs and "version" in COLUMNS[table]:
            at = list(COLUMNS[table]).index("version")
            rows = [(*r[:at], r[at] % EPOCH_SPAN, *r[at + 1 :]) for r in rows]
        assert_same_rows(rows, EXPECTED[table], table)
    events = table_rows(store, "order_events", COLUMNS["order_events"])
    assert_same_rows(events, EXPECTED["events"], "order_events")
    for table, key in TABLE_KEYS.items():
        where = " WHERE qty > 0" if table == "fills" else ""
        dupes = store.query(
            f"SELECT count() FROM (SELECT {key}, count() AS n FROM {store.database}.{table} "
            f"FINAL{where} GROUP BY {key} HAVING n > 1)"
        ).rows[0][0]
        assert dupes == 0, f"{table}: {dupes} keys with more than one row under FINAL"


def _assert_not_backwards(before: dict, after: dict) -> None:
    for table, versions in before.items():
        regressed = {k: (v, after[table].get(k)) for k, v in versions.items()
                     if after[table].get(k, -1) < v}  # fmt: skip
        assert not regressed, f"{table}: versions went backwards: {list(regressed.items())[:3]}"


async def _run(workers: list, until: object, timeout: float = 120) -> list[BaseException | None]:
    """Run worker coroutines until `until()` or every process worker crashed; stop them;
    return each one's exception (a `SimulatedCrash` for a crashed one)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            crashed = [t for t in tasks if t.done()]
            if any(
                t.exception() and not isinstance(t.exception(), SimulatedCrash) for t in crashed
            ):
                break
            if any(isinstance(t.exception(), SimulatedCrash) for t in crashed):
                break
            if await asyncio.to_thread(until):  # type: ignore[arg-type]
                await asyncio.sleep(1.0)
                if await asyncio.to_thread(until):  # type: ignore[arg-type]
                    break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError("the workers did not reach the expected state in time")
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, timeout=30)
    errors = [t.exception() for t in tasks]
    unexpected = [e for e in errors if e is not None and not isinstance(e, SimulatedCrash)]
    if unexpected:
        raise unexpected[0]
    return errors


@pytest.mark.parametrize("seed", [1, 2])
async def test_crashes_between_outputs_checkpoint_and_commit_leave_the_oracle_tables(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path, seed: int
) -> None:
    bootstrap = fresh_broker.bootstrap
    rng = random.Random(seed)
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=seed))
    await produce(bootstrap, flow)
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    sink_stop = asyncio.Event()
    sink_task = asyncio.create_task(sink.run(sink_stop))
    crashes = [(point, rng.randint(1, 4)) for point in ("outputs", "checkpoint", "commit")]
    rng.shuffle(crashes)
    before = _versions(store)
    try:
        for point, after in crashes:
            worker = _process(
                bootstrap, tmp_path / "ckpt", "proc", crash_hook=_crash_at(point, after)
            )
            errors = await _run([worker], lambda: False, timeout=60)  # until it crashes
            assert isinstance(errors[0], SimulatedCrash), f"no crash at {point} #{after}"
            await asyncio.sleep(1.5)  # let the sink write what was delivered before the crash
            now = await asyncio.to_thread(_versions, store)
            _assert_not_backwards(before, now)
            before = now
        final = _process(bootstrap, tmp_path / "ckpt", "proc")
        await _run([final], lambda: _complete(store))
        assert final.stats.restored_from_checkpoint > 0
        assert final.stats.recovered_records < len(flow), "recovery replayed the whole history"
    finally:
        sink_stop.set()
        await asyncio.wait_for(sink_task, timeout=30)
    _assert_oracle(store)
    _assert_not_backwards(before, _versions(store))


async def test_a_crash_while_the_next_batch_is_in_flight_leaves_the_oracle_tables(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path
) -> None:
    """The overlapped steps' own instant: a batch's offsets just committed while the next
    batch's outputs are sent and not yet acknowledged (`ProcessWorker.step`). The worker dies
    there (its checkpoints rarely due: the commit is what recovery starts from), another
    one carries on, and the tables equal the oracle's."""
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=4))
    await produce(bootstrap, flow)
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    sink_stop = asyncio.Event()
    sink_task = asyncio.create_task(sink.run(sink_stop))
    seen: list[bool] = []
    worker: ProcessWorker | None = None

    def hook(name: str) -> None:
        if name != "commit":
            return
        assert worker is not None
        seen.append(worker.in_flight)
        if worker.in_flight and sum(seen) == 3:  # the third such instant
            raise SimulatedCrash("commit with the next batch in flight")

    try:
        worker = ProcessWorker(
            bootstrap, TEST_SETTINGS, TEST_PROCESSING, group_id="proc",
            checkpoints=FileCheckpoints(tmp_path / "ckpt"), checkpoint_records=10_000,
            checkpoint_interval_s=3600, max_records=10, crash_hook=hook,
        )  # fmt: skip
        errors = await _run([worker], lambda: False, timeout=60)
        assert isinstance(errors[0], SimulatedCrash), (errors, seen)
        assert worker.stats.records < len(flow), "crashed before the end of the flow"
        final = _process(bootstrap, tmp_path / "ckpt", "proc")
        await _run([final], lambda: _complete(store))
    finally:
        sink_stop.set()
        await asyncio.wait_for(sink_task, timeout=30)
    _assert_oracle(store)


async def _produce_with_times(bootstrap: str, records: list[tuple[bytes, bytes, str, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        futures = [
            await producer.send(raw_topic(venue), value, key=key, timestamp_ms=ts, partition=part)
            for key, value, venue, ts, part in records  # type: ignore[misc]
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_raw_history_older_than_the_checkpoint_is_never_read(
    fresh_broker: TansuBroker, store_factory, tmp_path: Path
) -> None:
    """Retention stand-in: the embedded broker cannot delete records (PITFALLS §3), so a second
    broker holds, in place of every record before the checkpoint, a record that would change
    the tables if it were folded; only the record at checkpoint - 1 is the real one (its
    fingerprint proves the topic). The tables must still equal the oracle."""
    from aiokafka import AIOKafkaConsumer

    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=1)
    flow = as_records(disordered(SCENARIO, seed=5))
    half = len(flow) // 2
    await produce(bootstrap, flow[:half])
    first = store_factory()
    worker = _process(bootstrap, tmp_path / "ckpt", "proc")
    sink = SinkWorker(bootstrap, TEST_SETTINGS, first)
    await _run([worker, sink], lambda: worker.stats.records >= half)

    # what broker A holds, with the Kafka timestamps the fingerprints cover
    held: dict[str, list] = {}
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        from aiokafka import TopicPartition

        for venue in {v for _, _, v in flow}:
            tp = TopicPartition(raw_topic(venue), 0)
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            records: list = []
            while True:
                batch = (await reader.getmany(tp, timeout_ms=500)).get(tp, [])
                records += batch
                if (
                    not batch
                    and reader.highwater(tp) is not None
                    and (not records or records[-1].offset + 1 >= reader.highwater(tp))
                ):
                    break
            held[venue] = records
    finally:
        await reader.stop()

    broker_b = TansuBroker(tmp_path / "tansu-b.log")
    broker_b.start()
    try:
        await ensure_topics(broker_b.bootstrap, partitions=1)
        replacement = []
        bogus = next(v for k, e in SCENARIO if e.venue == "upbit" for v in [e.encode()])
        for venue, records in held.items():
            for record in records[:-1]:  # a stand-in that would add an order if folded
                fake = bogus.replace(b'"desk-', b'"ghost-')
                replacement.append((b"upbit|ghost|KRW-BTC" if venue == "upbit" else record.key,
                                    fake if venue == "upbit" else b"{not json",
                                    venue, record.timestamp, 0))  # fmt: skip
            last = records[-1]
            replacement.append((last.key, last.value, venue, last.timestamp, 0))
        await _produce_with_times(broker_b.bootstrap, replacement)
        await produce(broker_b.bootstrap, flow[half:])
        worker = _process(broker_b.bootstrap, tmp_path / "ckpt", "proc")
        sink = SinkWorker(broker_b.bootstrap, TEST_SETTINGS, first, group_id="sink-b")
        await _run([worker, sink], lambda: _complete(first))
        assert worker.stats.recovered_records == 0
        assert worker.stats.restored_from_checkpoint >= len(held)
    finally:
        broker_b.stop()
    _assert_oracle(first)
    letters = first.query(f"SELECT count() FROM {first.database}.dead_letters").rows[0][0]
    assert letters == 0, "a record from before the checkpoint was folded"


async def test_broker_restarted_empty_under_a_kept_store_continues_where_it_was(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path
) -> None:
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=9))
    half = len(flow) // 2
    await produce(bootstrap, flow[:half])
    # as on the embedded stack: checkpoints wait until the sink stored their outputs
    worker = _process(
        bootstrap, tmp_path / "ckpt", "pipeline-processor", sink_group="pipeline-sink"
    )
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    await _run(
        [worker, sink],
        lambda: worker.stats.records >= half and sink.stats.records >= worker.stats.messages_out,
    )
    before = _versions(store)
    assert before["orders"], "the first run wrote nothing"
    assert worker.stats.checkpoints_written >= 4, "the gate held checkpoints back for good"

    broker_b = TansuBroker(tmp_path / "tansu-b.log")  # empty: topics, offsets, groups gone
    broker_b.start()
    try:
        await ensure_topics(broker_b.bootstrap, partitions=4)
        await produce(broker_b.bootstrap, flow[half:])
        worker = _process(broker_b.bootstrap, tmp_path / "ckpt", "pipeline-processor")
        sink = SinkWorker(broker_b.bootstrap, TEST_SETTINGS, store)
        await _run([worker, sink], lambda: _complete(store))
        assert worker.stats.restored_from_checkpoint > 0
    finally:
        broker_b.stop()
    _assert_oracle(store, epochs=True)
    _assert_not_backwards(before, _versions(store))


async def test_checkpoint_topic_keeps_whole_checkpoints_and_another_host_resumes_from_it(
    fresh_broker: TansuBroker, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The topic store: chunked records, two slots (a half-written checkpoint never hides
    the previous whole one), and a worker with no local files resuming from it."""
    from pipeline.streams import topicstore
    from pipeline.streams.checkpoint import Checkpoint, encode

    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    monkeypatch.setattr(topicstore, "CHUNK_BYTES", 700)  # several chunks per checkpoint
    checkpoints = topicstore.TopicCheckpoints(bootstrap)
    try:
        body = {"blob": "x" * 3000}
        for offset in (5, 9):
            await checkpoints.save(Checkpoint("g", "raw.upbit", 2, offset, None, offset, body))
        loaded = await checkpoints.load("g", "raw.upbit", 2)
        assert loaded is not None
        assert (loaded.offset, loaded.body) == (9, body)
        # a newer checkpoint cut short by a crash: only its first chunk reached the topic
        name = "g|raw.upbit|2"
        partial = encode(Checkpoint("g", "raw.upbit", 2, 99, None, 99, body))[:700]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            slot = 1 - checkpoints._slots[name]
            await producer.send_and_wait(
                "pipeline.checkpoints", partial, key=f"{name}|{slot}|0".encode(),
                partition=await checkpoints._partition_of(name),
                headers=[("checkpoint", b"99999999999999999999"), ("chunks", b"6")],
            )  # fmt: skip
        finally:
            await producer.stop()
        again = await topicstore.TopicCheckpoints(bootstrap).load("g", "raw.upbit", 2)
        assert again is not None
        assert again.offset == 9
    finally:
        await checkpoints.close()

    flow = as_records(disordered(SCENARIO, seed=4))
    half = len(flow) // 2
    await produce(bootstrap, flow[:half])

    def worker() -> ProcessWorker:
        return ProcessWorker(
            bootstrap, TEST_SETTINGS, TEST_PROCESSING, group_id="proc",
            checkpoints=topicstore.TopicCheckpoints(bootstrap), checkpoint_records=25,
        )  # fmt: skip

    first = worker()
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    await _run([first, sink], lambda: first.stats.records >= half)
    await produce(bootstrap, flow[half:])
    second = worker()  # another host: nothing local, only the topic
    await _run([second, sink], lambda: _complete(store))
    assert second.stats.restored_from_checkpoint > 0
    assert second.stats.recovered_records == 0
    _assert_oracle(store)


async def test_sink_gate_releases_a_checkpoint_only_once_the_sink_stored_its_outputs(
    fresh_broker: TansuBroker,
) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from pipeline.streams.checkpoint import Checkpoint
    from pipeline.streams.sinkgate import SinkGate

    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=1)
    gate = SinkGate(bootstrap, "gate-sink")
    fills = TopicPartition("fills", 0)

    async def sink_stored(offset: int) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="gate-sink")
        await consumer.start()
        try:
            consumer.assign([fills])
            await consumer.commit({fills: offset})
        finally:
            await consumer.stop()

    try:
        gate.produced([("fills", 0, 0, 5)])
        first = Checkpoint("p", "raw.upbit", 0, 10, None, 1, {})
        gate.hold(first, 111)
        assert await gate.ready() == []  # the sink group has stored nothing
        gate.produced([("fills", 0, 5, 5)])
        second = Checkpoint("p", "raw.upbit", 0, 20, None, 2, {})
        gate.hold(second, 222)
        await sink_stored(7)
        assert await gate.ready() == [(first, 111)]
        assert await gate.ready() == []
        await sink_stored(10)
        assert await gate.ready() == [(second, 222)]
        assert gate.holding == 0
    finally:
        await gate.close()


async def test_checkpoint_of_another_format_is_refused_with_its_name_and_rebuilt(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import orjson

    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=6))
    half = len(flow) // 2
    await produce(bootstrap, flow[:half])
    worker = _process(bootstrap, tmp_path / "ckpt", "proc")
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    await _run([worker, sink], lambda: worker.stats.records >= half)
    files = sorted((tmp_path / "ckpt" / "proc").glob("*.ckpt"))
    assert files
    for path in files:  # as a future release might write them
        header, _, body = path.read_bytes().partition(b"\n")
        fields = orjson.loads(header)
        fields["format_version"] = 99
        path.write_bytes(orjson.dumps(fields) + b"\n" + body)

    await produce(bootstrap, flow[half:])
    worker = _process(bootstrap, tmp_path / "ckpt", "proc")
    await _run([worker, sink], lambda: _complete(store))
    assert worker.stats.restored_from_checkpoint == 0
    assert worker.stats.recovered_records > 0  # rebuilt from the raw topic instead
    refused = [r.getMessage() for r in caplog.records if "not usable" in r.getMessage()]
    assert any("format version 99" in m and ".ckpt" in m for m in refused), refused
    _assert_oracle(store)


# -- partitions handed back to the worker they were revoked from --------------------------


async def _wait(condition: object, tasks: list, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(condition):  # type: ignore[arg-type]
        for task in tasks:
            if task.done():
                raise AssertionError(f"a worker stopped while waiting for {what}") from (
                    task.exception()
                )
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


def _settled(*workers: ProcessWorker) -> bool:
    return all(w.stats.assigned and not w._loading for w in workers)


async def test_partitions_handed_back_keep_their_state_and_leave_the_oracle_tables(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Worker A alone, then B joins (A gets half its partitions back), then B leaves cleanly
    (A gets its own half back and B's half): A's own partitions come back with the state
    kept in memory, B's are loaded from B's checkpoints, and the tables equal the oracle."""
    import logging

    caplog.set_level(logging.INFO, logger="pipeline.streams.process_worker")
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=11))
    third = len(flow) // 3
    await produce(bootstrap, flow[:third])
    a = _process(bootstrap, tmp_path / "ckpt", "proc")
    b = _process(bootstrap, tmp_path / "ckpt", "proc")
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    stop_a, stop_b, stop_sink = asyncio.Event(), asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))
    task_sink = asyncio.create_task(sink.run(stop_sink))
    task_b: asyncio.Task[None] | None = None
    try:
        await _wait(lambda: a.stats.records >= third and _settled(a), [task_a], 60, "A")
        alone = set(a.stats.assigned)
        assert a.stats.partitions_kept == 0
        await produce(bootstrap, flow[third : 2 * third])
        task_b = asyncio.create_task(b.run(stop_b))
        await _wait(
            lambda: _settled(a, b) and not alone <= a.stats.assigned,
            [task_a, task_b], 60, "the two-worker assignment",
        )  # fmt: skip
        with_b = set(a.stats.assigned)
        kept_at_join = a.stats.partitions_kept
        assert kept_at_join > 0, "A's partitions handed back were loaded again"
        assert a.stats.restored_from_checkpoint == 0  # A loaded nothing: it kept them all
        await _wait(
            lambda: a.stats.records + b.stats.records >= 2 * third,
            [task_a, task_b], 60, "the second third",
        )  # fmt: skip
        stop_b.set()
        await asyncio.wait_for(task_b, timeout=30)  # a clean stop: B leaves the group
        await _wait(lambda: _settled(a) and a.stats.assigned == alone, [task_a], 60, "A alone")
        assert a.stats.partitions_kept > kept_at_join, "A's own half was loaded again"
        assert a.stats.restored_from_checkpoint > 0  # B's half, from B's checkpoints
        await produce(bootstrap, flow[2 * third :])
        await _wait(lambda: _complete(store), [task_a], 90, "the whole flow in the tables")
        await asyncio.sleep(1.5)
    finally:
        stop_a.set()
        stop_b.set()
        await asyncio.wait_for(task_a, timeout=30)
        stop_sink.set()
        await asyncio.wait_for(task_sink, timeout=30)
    kept = [r.getMessage() for r in caplog.records if "kept since the revoke" in r.getMessage()]
    assert len(kept) == a.stats.partitions_kept
    assert with_b < alone
    _assert_oracle(store)


async def test_kept_state_is_not_used_once_another_worker_moved_the_partition_on(
    fresh_broker: TansuBroker,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lone worker rejoins its group; while it is between the revoke and the new
    assignment, "another worker" (a zombie, an operator) moves two of its partitions on: it
    folds their new records and delivers the outputs, then commits the new offset (first
    partition) or writes its checkpoint without committing (second partition, as a worker
    killed between the two). The worker gets every partition back: it keeps the state of
    the others, loads those two, and the tables equal the oracle."""
    import logging

    from aiokafka import AIOKafkaConsumer

    from pipeline.streams import process_worker
    from pipeline.streams.checkpoint import Checkpoint, record_fingerprint
    from pipeline.streams.state import processor_state, restore_processor

    caplog.set_level(logging.INFO, logger="pipeline.streams.process_worker")
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=12))
    half = len(flow) // 2
    await produce(bootstrap, flow[:half])
    worker = _process(bootstrap, tmp_path / "ckpt", "proc")
    moved: dict[str, object] = {}  # "commit" / "checkpoint" -> the partition moved on
    failures: list[BaseException] = []
    original = process_worker._Rebalance.on_partitions_revoked

    async def other_worker(tp: object, how: str) -> None:
        """Fold tp's records after the worker's revoke checkpoint as another member would."""
        assert worker.checkpoints is not None
        checkpoint = await worker.checkpoints.load("proc", tp.topic, tp.partition)  # type: ignore[attr-defined]
        assert checkpoint is not None
        processor = restore_processor(checkpoint.body, TEST_PROCESSING, trusted=True)
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await reader.start()
        try:
            reader.assign([tp])
            reader.seek(tp, processor.next_offset)  # type: ignore[arg-type]
            records: list = []
            while not records or records[-1].offset + 1 < (reader.highwater(tp) or 0):  # type: ignore[arg-type]
                records += (await reader.getmany(tp, timeout_ms=500)).get(tp, [])  # type: ignore[call-overload]
        finally:
            await reader.stop()
        batch = processor.process(records, 0)
        await asyncio.gather(*await worker._deliver(batch))
        if how == "commit":
            assert worker._consumer is not None
            await worker._consumer.commit({tp: processor.next_offset})
        else:
            fingerprint = record_fingerprint(records[-1])
            body = processor_state(processor)
            moved_on = Checkpoint(
                "proc",
                tp.topic,
                tp.partition,
                processor.next_offset,
                fingerprint,
                1,
                body,  # type: ignore[attr-defined]
            )
            await worker.checkpoints.save(moved_on)

    async def revoked(self: object, partitions: list) -> None:
        await original(self, partitions)  # type: ignore[arg-type]
        if moved or not partitions:
            return
        try:
            await produce(bootstrap, flow[half:])
            counts = {}
            for tp, kept in worker._kept.items():
                probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
                await probe.start()
                try:
                    probe.assign([tp])
                    probe.seek(tp, kept.processor.next_offset)
                    await probe.getmany(tp, timeout_ms=1000, max_records=1)
                    counts[tp] = (probe.highwater(tp) or 0) - kept.processor.next_offset
                finally:
                    await probe.stop()
            busiest = sorted(counts, key=lambda tp: -counts[tp])[:2]
            assert len(busiest) == 2, counts
            assert counts[busiest[1]] > 0, counts
            for tp, how in zip(busiest, ("commit", "checkpoint"), strict=True):
                await other_worker(tp, how)
                moved[how] = tp
        except BaseException as exc:  # the coordinator would only log it
            failures.append(exc)
            raise

    monkeypatch.setattr(process_worker._Rebalance, "on_partitions_revoked", revoked)
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    stop, stop_sink = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    task_sink = asyncio.create_task(sink.run(stop_sink))
    try:
        await _wait(lambda: worker.stats.records >= half and _settled(worker), [task], 60, "A")
        before = set(worker.stats.assigned)
        assert worker._consumer is not None
        worker._consumer._coordinator.request_rejoin()
        await _wait(lambda: bool(moved) or failures, [task], 60, "the revoke")
        assert not failures, failures
        await _wait(
            lambda: _settled(worker) and worker.stats.assigned == before, [task], 60, "A again"
        )
        await _wait(lambda: _complete(store), [task], 90, "the whole flow in the tables")
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        stop_sink.set()
        await asyncio.wait_for(task_sink, timeout=30)
    messages = [r.getMessage() for r in caplog.records]
    for how, tp in moved.items():
        name = f"{tp.topic}:{tp.partition}:"  # type: ignore[attr-defined]
        assert any(m.startswith(name) and "handed back, but" in m for m in messages), how
        assert not any(name[:-1] in m and "kept since the revoke" in m for m in messages), how
    assert worker.stats.partitions_kept > 0  # the partitions nobody touched
    assert worker.stats.restored_from_checkpoint >= 2
    _assert_oracle(store)
