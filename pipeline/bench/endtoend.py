"""The real pipeline under `pipeline bench`: the process and sink roles in two processes.

    python -m pipeline.bench.endtoend {process,sink} --bootstrap HOST:PORT --data-dir DIR
        --events N [--timeout S]

Each role runs as `pipeline run` runs it on the embedded stack (the process worker with file
checkpoints held until the sink stored their outputs, the sink writing chDB), in a process of
its own so that the two roles use both cores. Each prints JSON lines on stdout:

- sink: `{"ready": true}` once it has its partitions; told `target N` on stdin, it stops
  once it stored N rows (`target 0`: at once) and prints `{"timeline": [[wall time, rows
  stored], ...], "cpu_s", "cpu_at_ready", "peak_rss_mb"}`;
- process: `{"first": wall time of the first raw batch, "caught_up": wall time at which all
  N raw records were folded and their outputs delivered, "messages_at_caught_up",
  "messages_out" (after the reorder buffer's idle flush), "done", "cpu_s", "peak_rss_mb",
  "stats"}` once it has folded N records and flushed, then it stops.

The bench matches the two: the end-to-end time runs from the first raw batch to the instant
the sink had stored as many rows as the process had produced by its last raw record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from pipeline.bench.peers import peak_rss_mb
from pipeline.config import ClickHouseTarget, Settings

PROCESS_GROUP = "bench-processor"
SINK_GROUP = "bench-sink"


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(obj).decode() + "\n")
    sys.stdout.flush()


def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": peak_rss_mb(),
    }


def settings_for(data_dir: Path) -> Settings:
    """The embedded stack's settings, in the bench's own data directory."""
    return Settings(
        data_dir=data_dir,
        clickhouse=ClickHouseTarget(scheme="chdb", path=data_dir / "store"),
        broker_session_timeout=6,
        broker_rebalance_timeout=6,
        checkpoints="file",
    )


async def run_process(args: argparse.Namespace) -> None:
    from pipeline.streams.checkpoint import open_checkpoints
    from pipeline.streams.process_worker import ProcessWorker

    settings = settings_for(Path(args.data_dir))
    worker = ProcessWorker(
        args.bootstrap, settings, settings.processing, group_id=args.group,
        checkpoints=open_checkpoints(settings, args.bootstrap),
        checkpoint_interval_s=settings.checkpoint_interval_s,
        checkpoint_records=settings.checkpoint_records, sink_group=args.sink_group,
        idle_flush_s=args.idle_flush,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    lags: list[float] = []
    ticker = asyncio.create_task(_loop_lag(lags))
    if args.serve:  # latency: run until told, say when the partitions are assigned
        await _serve(worker, task)
        lag, held = _lag_summary(lags), _orders(worker)
        stop.set()
        await task
        ticker.cancel()
        _say({**_usage(), "loop_lag": lag, "orders_held": held,
              "records": worker.stats.records})  # fmt: skip
        return
    first: float | None = None
    cpu_first = cpu_caught_up = 0.0
    caught_up: float | None = None
    at_caught_up = 0
    deadline = time.monotonic() + args.timeout
    stats = worker.stats
    while time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.005)
        if first is None and stats.first_batch_at:
            first = stats.first_batch_at
            cpu_first = time.process_time()
        # the lock is held from a batch's fold to its commit: free, the last one committed
        if (
            caught_up is None
            and stats.records >= args.events
            and not worker._lock.locked()
            and not worker.in_flight  # the last batch's commit is part of the figure
        ):
            caught_up = stats.last_batch_at
            at_caught_up = stats.messages_out
            cpu_caught_up = time.process_time()
        if caught_up is not None and stats.reorder_depth == 0:
            break
    done = time.time()
    orders_held = _orders(worker)
    lag = _lag_summary(lags)  # while processing, not the checkpoints of the stop
    stop.set()
    await task
    ticker.cancel()
    _say({
        "loop_lag": lag, "orders_held": orders_held,
        "first": first, "caught_up": caught_up, "messages_at_caught_up": at_caught_up,
        "messages_out": stats.messages_out, "done": done, **_usage(),
        "cpu_at_first": round(cpu_first, 3), "cpu_at_caught_up": round(cpu_caught_up, 3),
        "stats": {"records": stats.records, "normalized": stats.normalized,
                  "duplicates": stats.duplicates, "late": stats.late,
                  "dead_letters": stats.dead_letters, "batches": stats.batches},
    })  # fmt: skip


async def _loop_lag(lags: list[float], tick: float = 0.01) -> None:
    """How late the event loop wakes a 10 ms sleeper: how long something blocked it."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(tick)
        lags.append(loop.time() - before - tick)


def _lag_summary(lags: list[float]) -> dict[str, float]:
    if not lags:
        return {}
    ordered = sorted(lags)
    return {
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _orders(worker: Any) -> int:
    return sum(len(list(p.book.orders())) for p in worker.processors.values())


async def _serve(worker: Any, task: asyncio.Task[None]) -> None:
    """Say `{"ready": true}` once partitions are assigned, then run until a line on stdin."""
    loop = asyncio.get_running_loop()
    told = loop.run_in_executor(None, sys.stdin.readline)
    ready = False
    while not told.done() and not task.done():
        await asyncio.sleep(0.01)
        if not ready and worker.stats.assigned:
            ready = True
            _say({"ready": True})
    await told


async def run_sink(args: argparse.Namespace) -> None:
    from pipeline.sink.migrations import migrate
    from pipeline.sink.store import open_store
    from pipeline.streams.sink_worker import SinkWorker

    settings = settings_for(Path(args.data_dir))
    store = open_store(settings.store)
    migrate(store)
    worker = SinkWorker(args.bootstrap, settings, store, group_id=args.sink_group)
    latencies: dict[str, list[float]] = {}
    if args.serve:
        _watch_latency(worker, latencies)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    loop = asyncio.get_running_loop()
    told = loop.run_in_executor(None, sys.stdin.readline)
    target: int | None = None
    timeline: list[tuple[float, int]] = []
    ready = False
    cpu_ready = ready_at = 0.0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.005)
        consumer = worker._consumer
        if not ready and consumer is not None and consumer.assignment():
            ready = True
            cpu_ready = time.process_time()
            ready_at = time.time()
            _say({"ready": True})
        written = worker.stats.rows_written
        if not timeline or timeline[-1][1] != written:
            timeline.append((time.time(), written))
        if target is None and told.done():
            line = told.result().strip()
            target = int(line.split()[1]) if line.startswith("target") else 0
        if target is not None and written >= target:
            break
    stop.set()
    await task
    store.close()
    latency = {table: _percentiles(values) for table, values in latencies.items()}
    _say({"timeline": [] if args.serve else timeline, **_usage(),
          "cpu_at_ready": round(cpu_ready, 3), "ready_at": ready_at,
          "errors": worker.stats.errors,
          "latency": latency})  # fmt: skip


# table -> the field of its rows that holds the event time of the raw event behind the row
LATENCY_FIELDS: dict[str, str] = {
    "orders": "updated_at",
    "positions": "updated_at",
    "order_events": "event_time",
}


def _watch_latency(worker: Any, latencies: dict[str, list[float]]) -> None:
    """Time each stored row from its raw event's time (= its production time in the latency
    run) to the end of the insert that stored it."""
    write = worker.writer.write

    def timed(batches: Any) -> int:
        written = write(batches)
        now_ms = time.time() * 1000
        for batch in batches:
            name = LATENCY_FIELDS.get(batch.table)
            if name is None:
                continue
            into = latencies.setdefault(batch.table, [])
            for value in batch.records:
                with contextlib.suppress(Exception):
                    into.append(now_ms - orjson.loads(value)[name])
        return written

    worker.writer.write = timed


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)

    return {"count": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1], 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline.bench.endtoend")
    parser.add_argument("role", choices=["process", "sink"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--idle-flush", type=float, default=2.0)
    parser.add_argument("--serve", action="store_true", help="run until told (latency)")
    parser.add_argument("--group", default=PROCESS_GROUP, help="the process role's group")
    parser.add_argument("--sink-group", default=SINK_GROUP, help="the sink role's group")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # PIPELINE_BENCH_PROFILE=DIR: each role's run under cProfile, its stats written to
    # DIR/<role>-<pid>.prof (py-spy is not on every host; `python -m pstats` reads these)
    profile_dir = os.environ.get("PIPELINE_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_dir else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(run_process(args) if args.role == "process" else run_sink(args))
    finally:
        if profiler is not None and profile_dir:
            profiler.disable()
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(Path(profile_dir) / f"{args.role}-{os.getpid()}.prof"))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(0)
