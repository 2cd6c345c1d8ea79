"""A broker that stops answering for longer than every client timeout, then comes back.

The broker is paused (SIGSTOP) for longer than the group session timeout and the producers'
request timeout (40 s): produce, commit and fetch calls fail with timeouts meanwhile. The
process and sink roles, run as `pipeline run` runs them (`run_roles`), must ride it out,
and once the broker answers again the tables must equal the oracle: nothing lost, nothing
duplicated under FINAL.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
from pathlib import Path

import pytest
from stream_helpers import TEST_PROCESSING, TEST_SETTINGS, as_records, count, produce
from test_checkpoint_recovery import EXPECTED, SCENARIO, _assert_oracle, _complete

from pipeline.kafka import ensure_topics
from pipeline.liveview import Rates, render
from pipeline.local.broker import TansuBroker
from pipeline.roles import RunContext, run_roles
from pipeline.sink.store import Store
from pipeline.streams.producer import BatchingProducer

PAUSE_S = 48.0  # > session timeout (6 s) and > the producers' request timeout (40 s)


def _why(run: asyncio.Task) -> str:  # type: ignore[type-arg]
    exc = run.exception()
    return f"{type(exc).__name__}: {exc}" if exc is not None else "returned"


async def _produce_slowly(bootstrap: str, records: list, chunk: int, every_s: float) -> None:
    """Produce `records` a chunk at a time, retrying a chunk until the broker takes it, so the
    roles are mid-stream when the broker stops."""
    for start in range(0, len(records), chunk):
        while True:
            try:
                await produce(bootstrap, records[start : start + chunk])
                break
            except Exception:  # the broker is paused: try again once it answers
                await asyncio.sleep(1.0)
        await asyncio.sleep(every_s)


async def test_process_and_sink_ride_out_a_broker_paused_past_every_timeout(
    fresh_broker: TansuBroker, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker stops at the worst instant, as the process role hands a batch's outputs
    to the producer (they cannot be acknowledged before the request timeout), and comes
    back 48 s later."""
    bootstrap = fresh_broker.bootstrap
    await ensure_topics(bootstrap, partitions=2)
    settings = TEST_SETTINGS.with_overrides(
        order_retention_hours=TEST_PROCESSING.order_retention_ms / 3_600_000,
        checkpoint_interval_s=1.0,
        checkpoint_records=200,
        data_dir=tmp_path / "data",
    )
    out = io.StringIO()
    ctx = RunContext(settings=settings, bootstrap=bootstrap, store=store, out=out, status_every=2)
    requested = asyncio.Event()
    run = asyncio.create_task(run_roles(ctx, ("process", "sink"), None, requested))
    records = as_records(SCENARIO)
    feeder = asyncio.create_task(_produce_slowly(bootstrap, records, chunk=40, every_s=0.25))
    pid = fresh_broker.pid
    assert pid is not None
    paused = asyncio.Event()
    resumed = asyncio.Event()
    original = BatchingProducer.send_all

    async def send_all(self: BatchingProducer, messages: object) -> list:  # type: ignore[type-arg]
        if not paused.is_set() and count(store, "order_events") >= 50:  # mid-stream
            paused.set()
            os.kill(pid, signal.SIGSTOP)

            def resume() -> None:
                os.kill(pid, signal.SIGCONT)
                resumed.set()

            asyncio.get_running_loop().call_later(PAUSE_S, resume)
        return await original(self, messages)  # type: ignore[arg-type]

    monkeypatch.setattr(BatchingProducer, "send_all", send_all)
    try:
        await asyncio.wait_for(paused.wait(), timeout=90)
        await asyncio.wait_for(resumed.wait(), timeout=PAUSE_S + 10)
        assert not run.done(), f"a role stopped during the outage: {_why(run)}"
        await asyncio.wait_for(feeder, timeout=120)
        deadline = time.monotonic() + 120
        while not await asyncio.to_thread(_complete, store):
            assert not run.done(), f"a role stopped after the outage: {_why(run)}"
            assert time.monotonic() < deadline, "the tables never caught up after the outage"
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
    finally:
        if paused.is_set() and not resumed.is_set():
            os.kill(pid, signal.SIGCONT)
        feeder.cancel()
        requested.set()
        roles = await asyncio.wait_for(run, timeout=120)
    _assert_oracle(store)
    assert count(store, "orders") == len(EXPECTED["orders"])
    print(f"broker paused {PAUSE_S:.0f} s; role restarts: {roles.restarts}")
    # the outputs handed over as the broker stopped timed out: the process role restarted
    assert roles.restarts.get("process", 0) >= 1, out.getvalue()
    assert "process role: broker unavailable" in out.getvalue()
    assert "restarts after broker errors: process" in roles.status_line()
    view = render(roles, Rates(), None)
    assert any(line.startswith("broker errors, roles restarted: process") for line in view)
