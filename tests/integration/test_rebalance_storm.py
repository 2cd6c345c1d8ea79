"""A rebalance storm (issue 15): process workers join and leave the group under load, some
cleanly, some dying between outputs, checkpoint and commit, while the flow is produced.
One worker stays throughout. Afterwards the tables equal the oracle, nothing is duplicated
under FINAL, and no version went backwards between two looks at the store."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import pytest
from scenario_data import disordered
from stream_helpers import TEST_SETTINGS, as_records, produce
from test_checkpoint_recovery import (
    SCENARIO,
    SimulatedCrash,
    _assert_not_backwards,
    _assert_oracle,
    _complete,
    _crash_at,
    _process,
    _versions,
)

from pipeline.kafka import ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.sink.store import Store
from pipeline.streams.sink_worker import SinkWorker

CYCLES = 5


@pytest.mark.parametrize("seed", [3, 4])
async def test_workers_joining_and_leaving_under_load_leave_the_oracle_tables(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=4)
    flow = as_records(disordered(SCENARIO, seed=seed))
    chunks = [
        flow[i : i + len(flow) // (CYCLES * 2)]
        for i in range(0, len(flow), len(flow) // (CYCLES * 2))
    ]
    steady = _process(bootstrap, tmp_path / "ckpt", "proc")
    sink = SinkWorker(bootstrap, TEST_SETTINGS, store)
    stop_steady, stop_sink = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(steady.run(stop_steady)), asyncio.create_task(sink.run(stop_sink))]
    before = await asyncio.to_thread(_versions, store)
    crashes = joins = 0
    try:
        for cycle in range(CYCLES):
            await produce(bootstrap, chunks[2 * cycle] if 2 * cycle < len(chunks) else [])
            how = rng.choice(["clean", "outputs", "checkpoint", "commit"])
            hook = None if how == "clean" else _crash_at(how, rng.randint(1, 3))
            guest = _process(bootstrap, tmp_path / "ckpt", "proc", crash_hook=hook)
            stop_guest = asyncio.Event()
            guest_task = asyncio.create_task(guest.run(stop_guest))
            joins += 1
            rest = chunks[2 * cycle + 1] if 2 * cycle + 1 < len(chunks) else []
            await produce(bootstrap, rest)  # while the group rebalances
            await asyncio.sleep(rng.uniform(2.0, 5.0))
            stop_guest.set()
            try:
                await asyncio.wait_for(guest_task, timeout=30)
            except SimulatedCrash:
                crashes += 1
            for task in tasks:
                assert not task.done(), task.exception()
            now = await asyncio.to_thread(_versions, store)
            _assert_not_backwards(before, now)
            before = now
        await produce(bootstrap, [r for chunk in chunks[2 * CYCLES :] for r in chunk])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not await asyncio.to_thread(_complete, store):
            assert loop.time() < deadline, "the tables never caught up after the storm"
            for task in tasks:
                assert not task.done(), task.exception()
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
    finally:
        stop_steady.set()
        stop_sink.set()
        for task in tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(task, timeout=30)
    print(f"seed {seed}: {joins} workers joined and left, {crashes} of them crashed")
    _assert_oracle(store)
    _assert_not_backwards(before, await asyncio.to_thread(_versions, store))
