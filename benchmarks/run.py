"""`make bench-parts`: the pipeline's speed on this machine, printed for BENCHMARKS.md.

    python benchmarks/run.py [--orders N] [--only fold|processor|e2e|recovery] [--passes P]
                             [--recovery [--history N,N,..] [--baseline-max N] [--no-failover]
                                         [--json FILE]]

The fold and processor figures are measured `--passes` times over the same flow, each pass
into a new, empty book; the first pass also grows the process heap from nothing (page
faults), later passes run on a warm heap as a long-running worker does. All are printed.

- fold: raw bytes -> envelope -> normalizer -> TradingBook, one core (target >= 100,000/s)
  with the process worker's GC policy (streams/gcpolicy.py) applied after every 5,000 events
- processor: the same plus the reorder buffer and encoding every output message (the whole
  per-batch CPU work of a process worker except Kafka I/O)
- e2e: raw records on the embedded Tansu broker -> process worker -> output topics -> sink
  worker -> chDB, in one process (the issue's target: 30,000 raw events/s per worker)
- recovery (only with `--recovery` or `--only recovery`; minutes, and GBs of broker memory
  for 10M records): restart-to-first-new-output of a process worker after 100k, 1M and 10M
  raw events of history with the same live state, with and without a checkpoint, and the
  output gap of a failover between two worker processes (benchmarks/recovery.py, which runs
  alone too)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from flows import synthetic_flow

from pipeline import compiled
from pipeline.domain.book import TradingBook
from pipeline.envelope import decode_envelope
from pipeline.streams.gcpolicy import GcPolicy
from pipeline.streams.outputs import batch_messages
from pipeline.streams.processor import FileRecord, PartitionProcessor, ProcessingSettings
from pipeline.venues import normalizer_for


def _records(flow: list) -> list[FileRecord]:
    return [FileRecord("raw.bench", 0, i, key, env.encode()) for i, (key, env) in enumerate(flow)]


BATCH = 5000  # events between two GC policy calls, like one worker batch


def bench_fold(flow: list, policy: GcPolicy) -> float:
    raw = [env.encode() for _key, env in flow]
    book = TradingBook()
    gc.collect()
    started = time.perf_counter()
    for i in range(0, len(raw), BATCH):
        for value in raw[i : i + BATCH]:
            envelope = decode_envelope(value)
            for event in normalizer_for(envelope.venue).normalize(envelope):
                book.apply(event)
        policy.after_batch()
    return len(raw) / (time.perf_counter() - started)


def bench_processor(flow: list, policy: GcPolicy) -> float:
    records = _records(flow)
    processor = PartitionProcessor("raw.bench", 0, ProcessingSettings())
    dumps = orjson.dumps
    gc.collect()
    started = time.perf_counter()
    for i in range(0, len(records), BATCH):
        out = batch_messages(processor.process(records[i : i + BATCH], 0))
        for messages in out.values():
            for _key, value in messages:
                dumps(value)
        policy.after_batch()
    return len(records) / (time.perf_counter() - started)


async def bench_e2e(flow: list) -> tuple[float, float]:
    from aiokafka import AIOKafkaProducer

    from pipeline.config import ClickHouseTarget, Settings
    from pipeline.kafka import ensure_topics, raw_topic
    from pipeline.local.broker import TansuBroker
    from pipeline.sink.migrations import migrate
    from pipeline.sink.store import open_store
    from pipeline.streams.process_worker import ProcessWorker
    from pipeline.streams.sink_worker import SinkWorker

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    broker = TansuBroker(work / "tansu.log")
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, partitions=4)
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, enable_idempotence=False, linger_ms=5
        )
        await producer.start()
        futures = [
            await producer.send(raw_topic(env.venue), env.encode(), key=key) for key, env in flow
        ]
        await asyncio.gather(*futures)
        await producer.stop()
        store = open_store(ClickHouseTarget(scheme="chdb", path=work / "store"))
        migrate(store)
        settings = Settings(broker_session_timeout=6, broker_rebalance_timeout=6)
        process = ProcessWorker(broker.bootstrap, settings)
        sink = SinkWorker(broker.bootstrap, settings, store)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(process.run(stop)), asyncio.create_task(sink.run(stop))]
        while not process.stats.assigned:  # group join is not throughput
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        processed_at = None
        expected_rows = None
        while True:
            await asyncio.sleep(0.05)
            if processed_at is None and process.stats.records >= len(flow):
                processed_at = time.perf_counter()
                expected_rows = process.stats.messages_out
            if expected_rows is not None and sink.stats.records >= expected_rows:
                break
        done_at = time.perf_counter()
        stop.set()
        await asyncio.gather(*tasks)
        return len(flow) / (processed_at - started), len(flow) / (done_at - started)
    finally:
        broker.stop()


def _line(name: str, what: str, rate: float) -> None:
    print(f"{name:<10} {what:<38} {rate:>10,.0f} raw events/s", flush=True)


def _passes(name: str, what: str, runs: list[float]) -> None:
    each = ", ".join(f"{rate:,.0f}" for rate in runs)
    _line(name, what, max(runs[1:] or runs))
    print(f"{'':<10} passes: {each} (first pass on a cold heap)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=30_000, help="distinct orders in the flow")
    parser.add_argument("--only", choices=["fold", "processor", "e2e", "recovery"])
    parser.add_argument("--passes", type=int, default=4, help="fold/processor passes (>= 1)")
    parser.add_argument(
        "--recovery", action="store_true", help="also run the recovery benchmark (recovery.py)"
    )
    parser.add_argument(
        "--history", default="100000,1000000,10000000", help="recovery: history sizes (records)"
    )
    parser.add_argument(
        "--baseline-max", type=int, default=1_000_000,
        help="recovery: measure the no-checkpoint rebuild up to this size",
    )  # fmt: skip
    parser.add_argument(
        "--failover", action=argparse.BooleanOptionalAction, default=True,
        help="recovery: also measure a failover",
    )  # fmt: skip
    parser.add_argument(
        "--json", default="recovery-results.json", help="recovery: where the figures are written"
    )
    args = parser.parse_args()
    if args.only == "recovery":
        return _recovery(args)
    policy = GcPolicy()
    policy.start()
    flow = synthetic_flow(args.orders)
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, hot path "
        f"{compiled.STATUS.reason}, {len(flow):,} raw events from {args.orders:,} orders "
        "(half upbit, half binance)"
    )
    passes = range(max(1, args.passes))
    if args.only in (None, "fold"):
        runs = [bench_fold(flow, policy) for _ in passes]
        _passes("fold", "normalize + fold, one core (best warm)", runs)
    if args.only in (None, "processor"):
        runs = [bench_processor(flow, policy) for _ in passes]
        _passes("processor", "+ reorder + output encoding (best warm)", runs)
    if args.only in (None, "e2e"):
        processed, stored = asyncio.run(bench_e2e(flow))
        _line("e2e", "Tansu -> process worker (committed)", processed)
        _line("e2e", "Tansu -> process -> sink -> chDB", stored)
    if args.recovery:
        return _recovery(args)
    return 0


def _recovery(args: argparse.Namespace) -> int:
    import recovery

    argv = [
        "--history",
        args.history,
        "--baseline-max",
        str(args.baseline_max),
        "--json",
        args.json,
    ]
    return recovery.main(argv + ([] if args.failover else ["--no-failover"]))


if __name__ == "__main__":
    sys.exit(main())
