"""A worker killed with SIGKILL mid-stream and restarted loses nothing and duplicates nothing.

The worker runs as a real subprocess (`pipeline worker --role all`) against a real Tansu
broker, with its own chDB store; the test kills the worker right after its first commit, so the
kill lands in the middle of the stream (half of it is not even produced yet, and the worker
may have emitted outputs it has not committed), then restarts it and compares the tables with the
oracle (the distinct events folded in event-time order).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from scenario_data import POISON, disordered, scenario_envelopes
from stream_helpers import (
    COLUMNS,
    as_records,
    assert_same_rows,
    expected_state,
    produce,
    remote_rows,
)

from pipeline.envelope import envelope_key
from pipeline.kafka import RAW_TOPICS, ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.local.query import state_query
from pipeline.local.statefile import StackState, read_state

COPIES = 40  # accounts replaying the recorded flow: a few thousand raw records


def _big_scenario() -> list:
    """The recorded flow for many accounts (venues keyed by the envelope's account)."""
    base = scenario_envelopes()
    out = []
    for key, envelope in base:
        if envelope.venue in ("ssi", "futures_gateway"):  # account comes from the payload
            out.append((key, envelope))
            continue
        symbol = key.decode().rsplit("|", 1)[1]
        for i in range(COPIES):
            account = f"desk-{i}"
            out.append(
                (envelope_key(envelope.venue, account, symbol), replace(envelope, account=account))
            )
    return out


def _worker(tmp_path: Path, bootstrap: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(
        PIPELINE_ORDER_RETENTION_HOURS="1000000",  # the recorded flow spans years
        PIPELINE_BROKER_SESSION_TIMEOUT="6",
        PIPELINE_BROKER_REBALANCE_TIMEOUT="6",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--role", "all", "--duration", "240",
         "--kafka-bootstrap", bootstrap, "--data-dir", str(tmp_path / "data"),
         "--clickhouse-url", f"chdb://{tmp_path / 'store'}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


async def _committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offset of every raw partition that has one."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        found = {}
        for topic in RAW_TOPICS:
            for partition in consumer.partitions_for_topic(topic) or ():
                offset = await consumer.committed(TopicPartition(topic, partition))
                if offset:
                    found[(topic, partition)] = offset
        return found
    finally:
        await consumer.stop()


RECOVERED = re.compile(r"recovered (\S+):(\d+) to offset (\d+)")


def _resumed_at(output: str) -> dict[tuple[str, int], int]:
    """Where the restarted worker resumed each partition it recovered (its log lines)."""
    return {(t, int(p)): int(o) for t, p, o in RECOVERED.findall(output)}


def _store_state(tmp_path: Path, pid: int, timeout: float = 60) -> StackState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(tmp_path / "data")  # the killed worker's stale file is ignored
        if state is not None and state.pid == pid and state.query_url:
            return state
        time.sleep(0.2)
    raise AssertionError("the restarted worker never published its query endpoint")


async def test_worker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(
    fresh_broker: TansuBroker, tmp_path: Path
) -> None:
    bootstrap = fresh_broker.bootstrap
    flow = as_records(disordered(_big_scenario(), seed=11))
    poison = [(key, value, "binance") for key, value, _ in POISON]
    expected = expected_state(_big_scenario())
    await ensure_topics(bootstrap, partitions=4)
    half = len(flow) // 2
    await produce(bootstrap, flow[:half])

    worker = _worker(tmp_path, bootstrap)
    try:
        while not await _committed(bootstrap, "pipeline-processor"):
            # kill the moment the worker has committed its first batch
            assert worker.poll() is None, worker.communicate()[0]
            await asyncio.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    committed = await _committed(bootstrap, "pipeline-processor")  # as the kill left them
    assert 0 < sum(committed.values()) < len(flow), "the kill did not land mid-stream"

    await produce(bootstrap, flow[half:] + poison)
    restarted = _worker(tmp_path, bootstrap)
    try:
        state = await asyncio.to_thread(_store_state, tmp_path, restarted.pid)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            counts = state_query(
                state,
                "SELECT (SELECT count() FROM trading.orders FINAL), "
                "(SELECT count() FROM trading.order_events FINAL), "
                "(SELECT count() FROM trading.dead_letters FINAL)",
            ).rows[0]
            if list(counts) == [len(expected["orders"]), len(expected["event_ids"]), len(POISON)]:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(2)  # let positions and fills of the last batch land too
        for table in ("orders", "positions", "fills", "order_events"):
            got = remote_rows(state, "trading", table, COLUMNS[table])
            want = expected["events"] if table == "order_events" else expected[table]
            assert_same_rows(got, want, table)
        reasons = state_query(state, "SELECT reason FROM trading.dead_letters FINAL").rows
        assert sorted(r for (r,) in reasons) == sorted(r for _, _, r in POISON)
    finally:
        restarted.send_signal(signal.SIGTERM)
        output = restarted.communicate(timeout=60)[0]
    assert restarted.returncode == 0, output
    # The restart recovered every partition the killed worker had committed, and resumed it
    # from its committed offset or beyond (the state restored, not refolded from the start
    # and not re-emitted from offset 0).
    resumed = _resumed_at(output)
    assert set(committed) <= set(resumed), (committed, resumed, output[-2000:])
    for tp, offset in committed.items():
        assert resumed[tp] >= offset, (tp, offset, resumed[tp])
