"""Recovery and failover of the process worker (issue 11, items 4 and 5).

    python benchmarks/recovery.py [--history 100000,1000000,10000000] [--baseline-max N]
                                  [--failover | --no-failover] [--json FILE]
    make bench-parts ARGS="--recovery"        # the same through benchmarks/run.py

Recovery (item 4). For each history size N, a fresh embedded Tansu broker gets N raw Binance
`executionReport` records (the venue's real wire format, in the raw envelope) on one
partition of `raw.binance`: a constant 2,000 orders are open at any time (each order opens,
rests while the next 2,000 orders open, then fills in two trades or fills once and is
cancelled), on 10 accounts x 5 symbols = 50 positions, and event time advances one second
per record, so the history spans far more than the order retention (1 h) and the tombstones
(2 h) of the processing settings used: the live state (open orders, finished orders still
retained, tombstones, positions and their recent fills) is the same for every N. The state
after the N records is built by `PartitionProcessor.process` over the very records produced
(no Kafka, faster than a worker with outputs) and saved as the worker's checkpoint, with the
fingerprint of the last record as read back from the broker. Then a fresh `ProcessWorker`
(same group, that checkpoint directory, no committed offset) is started with 1,000 new
records waiting after the history, and the time from its start to the first new output
message on `orders.state` is measured, with what it is made of (group join, recovery) and
the checkpoint's size and load + restore time. The old behaviour, no checkpoint (the worker
rebuilds by replaying the partition from offset 0 up to the committed offset N), is measured
the same way for N <= --baseline-max, in a group of its own whose offset N is committed.

Failover (item 5). Two `pipeline worker --role process` processes in one group (session and
rebalance timeouts 6 s, heartbeat 1 s, file checkpoints in a shared data directory every
second), 4 partitions of `raw.binance`, a steady producer (event time = wall clock). One
worker is SIGKILLed; its partitions move to the other, which resumes them from their
checkpoints. Per raw partition: the gap in `orders.state` output (Kafka timestamps of the
last output before the kill and the first after it), and the time until output of records
newer than anything output before the kill.

Everything is printed and written to a JSON file (--json, default recovery-results.json in
the working directory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pipeline import compiled
from pipeline.envelope import envelope_key
from pipeline.streams.processor import HOUR_MS, ProcessingSettings

OPEN_ORDERS = 2_000
ACCOUNTS = 10
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ETHUSDC")
STEP_MS = 1_000  # event time between two records of the history
T0 = 1_700_000_000_000
PROCESSING = ProcessingSettings(
    lateness_ms=5_000, order_retention_ms=1 * HOUR_MS, tombstone_ms=2 * HOUR_MS
)
TOPIC = "raw.binance"
NEW_RECORDS = 1_000  # produced after the history, before the worker starts
GiB = 1 << 30


# -- the synthetic history ----------------------------------------------------------------


class BinanceFlow:
    """Raw Binance user-stream records with a constant number of open orders.

    Step k opens order k (NEW) and completes order k - `open_orders`: two TRADE reports
    (PARTIALLY_FILLED, FILLED), or for every fifth order one TRADE and a CANCELED. So after
    the first `open_orders` steps, exactly `open_orders` orders are open, every position
    (account x symbol) keeps trading, and each record is `step_ms` later in event time than
    the one before (`clock`: event time = the wall clock instead, for a live producer).
    """

    def __init__(
        self,
        open_orders: int = OPEN_ORDERS,
        accounts: int = ACCOUNTS,
        symbols: tuple[str, ...] = SYMBOLS,
        step_ms: int = STEP_MS,
        clock: bool = False,
    ) -> None:
        self.open_orders = open_orders
        self.accounts = accounts
        self.symbols = symbols
        self.step_ms = step_ms
        self.clock = clock
        self.produced = 0  # records generated so far
        self._bases: dict[int, dict[str, Any]] = {}  # open order -> its NEW report
        self._iter = self._records()

    def take(self, count: int) -> list[tuple[bytes, bytes]]:
        """The next `count` records as (key, value) bytes."""
        it = self._iter
        return [next(it) for _ in range(count)]

    def _time(self) -> int:
        if self.clock:
            return int(time.time() * 1000)
        return T0 + self.produced * self.step_ms

    def _record(self, account: str, symbol: str, event: dict[str, Any]) -> tuple[bytes, bytes]:
        t = event["E"]
        event["I"] = self.produced  # execution id: unique, increasing
        self.produced += 1
        value = orjson.dumps(
            {
                "venue": "binance",
                "account": account,
                "channel": "userData",
                "received_at": t + 3,
                "payload": {"subscriptionId": 0, "event": event},
            }
        )
        return envelope_key("binance", account, symbol), value

    def _records(self) -> Iterator[tuple[bytes, bytes]]:
        step = 0
        while True:
            account = f"acct-{step % self.accounts}"
            symbol = self.symbols[(step // self.accounts) % len(self.symbols)]
            t = self._time()
            base = {
                "e": "executionReport", "E": t, "s": symbol, "c": f"cli-{step}",
                "S": "BUY" if step % 3 else "SELL", "o": "LIMIT", "f": "GTC",
                "q": "0.02000000", "p": f"{1500 + step % 100}.00000000", "P": "0.00000000",
                "F": "0.00000000", "g": -1, "C": "", "x": "NEW", "X": "NEW", "r": "NONE",
                "i": 10_000_000 + step, "l": "0.00000000", "z": "0.00000000",
                "L": "0.00000000", "n": "0", "N": None, "T": t, "t": -1,
                "I": 0, "w": True, "m": False, "M": False, "O": t,
                "Z": "0.00000000", "Y": "0.00000000", "Q": "0.00000000", "W": t,
                "V": "EXPIRE_MAKER",
            }  # fmt: skip
            self._bases[step] = base
            yield self._record(account, symbol, base)
            done = step - self.open_orders
            if done >= 0:
                yield from self._complete(done)
            step += 1

    def _complete(self, order: int) -> Iterator[tuple[bytes, bytes]]:
        base = self._bases.pop(order)
        account = f"acct-{order % self.accounts}"
        symbol = base["s"]
        price = base["p"]
        cancel = order % 5 == 0
        for n in (1, 2):
            t = self._time()
            event = dict(base)
            if n == 2 and cancel:
                event.update(
                    E=t, x="CANCELED", X="CANCELED", l="0.00000000", z="0.01000000",
                    L="0.00000000", n="0", N=None, T=t, t=-1, c=f"cancel-{order}",
                    C=base["c"], Z=f"{float(price) * 0.01:.8f}",
                )  # fmt: skip
            else:
                cum = "0.01000000" if n == 1 else "0.02000000"
                event.update(
                    E=t, x="TRADE", X="PARTIALLY_FILLED" if n == 1 else "FILLED",
                    l="0.01000000", z=cum, L=price, n="0.00001000", N="BNB", T=t,
                    t=100_000_000 + 2 * order + n, m=True,
                    Z=f"{float(price) * float(cum):.8f}", Y=f"{float(price) * 0.01:.8f}",
                )  # fmt: skip
            yield self._record(account, symbol, event)


# -- measuring helpers --------------------------------------------------------------------


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of `pid` (this process when None), from /proc."""
    path = f"/proc/{pid or 'self'}/status"
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


# -- item 4: recovery after N records of history ------------------------------------------


@dataclass
class RecoveryRun:
    """One worker start against a history of `history` records."""

    mode: str  # "checkpoint" or "no checkpoint (replay from 0)"
    history: int
    start_to_first_output_s: float = 0.0  # worker start -> first new message on orders.state
    start_to_first_sent_s: float = 0.0  # worker start -> its first output handed to Kafka
    start_to_assigned_s: float = 0.0  # worker start -> the group assigned it the partition
    recovery_s: float = 0.0  # the worker's own recovery_seconds (load, check, replay)
    replayed_records: int = 0
    restored_from_checkpoint: int = 0
    new_records_processed: int = 0


@dataclass
class HistoryResult:
    history: int
    requested: int
    note: str = ""
    produce_s: float = 0.0
    fold_s: float = 0.0
    broker_rss_bytes: int = 0
    bench_rss_bytes: int = 0
    held_orders: int = 0
    open_orders: int = 0
    positions: int = 0
    evicted_ids: int = 0
    position_fills: int = 0
    event_time_span_h: float = 0.0
    checkpoint_bytes: int = 0
    checkpoint_load_restore_s: float = 0.0
    runs: list[RecoveryRun] = field(default_factory=list)


class _Producer:
    """Whole record batches to one partition, a bounded number in flight; checks that the
    broker put every batch at the offset expected (one producer, one partition: in order)."""

    def __init__(self, producer: Any, topic: str, partition: int, first_offset: int) -> None:
        self.producer = producer
        self.topic = topic
        self.partition = partition
        self.next_offset = first_offset  # offset the next batch sent will start at
        self.builder = producer.create_batch()
        self.pending: list[tuple[asyncio.Future[Any], int]] = []

    async def add(self, records: list[tuple[bytes, bytes]]) -> None:
        for key, value in records:
            if self.builder.append(key=key, value=value, timestamp=None) is None:
                await self._send()
                self.builder.append(key=key, value=value, timestamp=None)
        if len(self.pending) > 32:
            await self._settle(16)

    async def _send(self) -> None:
        count = self.builder.record_count()
        future = await self.producer.send_batch(self.builder, self.topic, partition=self.partition)
        self.pending.append((future, self.next_offset))
        self.next_offset += count
        self.builder = self.producer.create_batch()

    async def _settle(self, keep: int) -> None:
        while len(self.pending) > keep:
            future, expected = self.pending.pop(0)
            offset = (await future).offset
            if offset != expected:
                raise RuntimeError(f"batch landed at offset {offset}, expected {expected}")

    async def flush(self) -> None:
        if self.builder.record_count():
            await self._send()
        await self._settle(0)


async def _read_record(bootstrap: str, tp: Any, offset: int) -> Any:
    """The record at `offset` of `tp` as the broker hands it out (key, value, timestamp)."""
    from aiokafka import AIOKafkaConsumer

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign([tp])
        reader.seek(tp, offset)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fetched = await reader.getmany(tp, timeout_ms=1000, max_records=1)
            for record in fetched.get(tp, []):
                if record.offset == offset:
                    return record
                raise RuntimeError(f"asked for offset {offset}, got {record.offset}")
        raise RuntimeError(f"no record at {tp}@{offset}")
    finally:
        await reader.stop()


async def _commit(bootstrap: str, group: str, tp: Any, offset: int) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
        committed = await consumer.committed(tp)
        if committed != offset:
            raise RuntimeError(f"commit of {offset} for {group} reads back as {committed}")
    finally:
        await consumer.stop()


async def _build_history(
    bootstrap: str, requested: int, result: HistoryResult, broker_pid: int | None,
    reserve: int,
) -> tuple[Any, BinanceFlow]:  # fmt: skip
    """Produce up to `requested` records and fold the same records into a processor; stop
    early (and say why) when the host's available memory would drop below `reserve`."""
    from aiokafka import AIOKafkaProducer

    from pipeline.streams.gcpolicy import GcPolicy
    from pipeline.streams.processor import FileRecord, PartitionProcessor

    flow = BinanceFlow()
    processor = PartitionProcessor(TOPIC, 0, PROCESSING)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks=1, linger_ms=0,
        max_batch_size=1 << 20, max_request_size=4 << 20,
    )  # fmt: skip
    await producer.start()
    policy = GcPolicy()
    policy.start()
    sender = _Producer(producer, TOPIC, 0, 0)
    started = time.perf_counter()
    fold_s = 0.0
    offset = 0
    chunk = 5_000
    last_report = started
    try:
        while offset < requested:
            if offset % 100_000 == 0 and mem_available() < reserve:
                result.note = (
                    f"stopped at {offset:,} records: the host's available memory fell below "
                    f"{_gib(reserve)} (broker RSS {_gib(rss_bytes(broker_pid))})"
                )
                break
            records = flow.take(min(chunk, requested - offset))
            await sender.add(records)
            folded = time.perf_counter()
            processor.process(
                [FileRecord(TOPIC, 0, offset + i, k, v) for i, (k, v) in enumerate(records)], 0
            )
            policy.after_batch()
            fold_s += time.perf_counter() - folded
            offset += len(records)
            await asyncio.sleep(0)
            now = time.perf_counter()
            if now - last_report >= 30:
                last_report = now
                print(
                    f"  ... {offset:,} records in {now - started:.0f}s, broker RSS "
                    f"{_gib(rss_bytes(broker_pid))}, available {_gib(mem_available())}",
                    flush=True,
                )
        await sender.flush()
    finally:
        await producer.stop()
    result.history = offset
    result.produce_s = time.perf_counter() - started
    result.fold_s = fold_s
    return processor, flow


async def _produce_more(bootstrap: str, flow: BinanceFlow, first_offset: int, count: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks=1,
                                max_batch_size=1 << 20)  # fmt: skip
    await producer.start()
    try:
        sender = _Producer(producer, TOPIC, 0, first_offset)
        await sender.add(flow.take(count))
        await sender.flush()
    finally:
        await producer.stop()


async def _worker_run(
    bootstrap: str, mode: str, history: int, group: str, checkpoints: Any, timeout_s: float
) -> RecoveryRun:
    """Start a fresh process worker; time it to its first new output on orders.state."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from pipeline.config import Settings
    from pipeline.kafka import ORDERS_STATE
    from pipeline.streams.process_worker import ProcessWorker

    run = RecoveryRun(mode=mode, history=history)
    watcher = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                               enable_auto_commit=False)  # fmt: skip
    await watcher.start()
    out_tp = TopicPartition(ORDERS_STATE, 0)
    watcher.assign([out_tp])
    await watcher.seek_to_beginning(out_tp)
    settings = Settings(broker_session_timeout=6, broker_rebalance_timeout=6,
                        broker_heartbeat_interval=1)  # fmt: skip
    worker = ProcessWorker(
        bootstrap, settings, PROCESSING, group_id=group, topics=(TOPIC,),
        checkpoints=checkpoints, checkpoint_interval_s=10.0, checkpoint_records=100_000,
    )  # fmt: skip
    stop = asyncio.Event()
    start_wall_ms = int(time.time() * 1000)
    started = time.monotonic()
    task = asyncio.create_task(worker.run(stop))
    first_output = None
    try:
        while time.monotonic() - started < timeout_s:
            fetched = await watcher.getmany(out_tp, timeout_ms=5, max_records=1000)
            now = time.monotonic()
            if not run.start_to_assigned_s and (worker._loading or worker.stats.assigned):
                run.start_to_assigned_s = now - started
            if not run.start_to_first_sent_s and worker.stats.messages_out:
                run.start_to_first_sent_s = now - started
            if first_output is None and any(
                r.timestamp >= start_wall_ms for r in fetched.get(out_tp, [])
            ):
                first_output = now - started
            if first_output is not None and worker.stats.records >= NEW_RECORDS:
                break
            if task.done():
                task.result()  # raises what stopped the worker
                raise RuntimeError("the worker stopped on its own")
        else:
            raise RuntimeError(f"{mode}: no new output within {timeout_s:.0f}s")
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 60)
        await watcher.stop()
    run.start_to_first_output_s = first_output
    run.recovery_s = worker.stats.recovery_seconds
    run.replayed_records = worker.stats.recovered_records
    run.restored_from_checkpoint = worker.stats.restored_from_checkpoint
    run.new_records_processed = worker.stats.records
    return run


async def bench_history(requested: int, baseline_max: int, reserve: int) -> HistoryResult:
    from aiokafka import TopicPartition

    from pipeline.kafka import ensure_topics
    from pipeline.local.broker import TansuBroker
    from pipeline.streams.checkpoint import Checkpoint, FileCheckpoints, record_fingerprint
    from pipeline.streams.state import processor_state, restore_processor

    result = HistoryResult(history=0, requested=requested)
    work = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    broker = TansuBroker(work / "tansu.log")
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, partitions=1)
        processor, flow = await _build_history(
            broker.bootstrap, requested, result, broker.pid, reserve
        )
        n = result.history
        result.broker_rss_bytes = rss_bytes(broker.pid)
        result.bench_rss_bytes = rss_bytes()
        tp = TopicPartition(TOPIC, 0)
        last = await _read_record(broker.bootstrap, tp, n - 1)
        if (last.key, last.value) != (processor.last_record.key, processor.last_record.value):
            raise RuntimeError(f"the record at {n - 1} is not the one folded there")
        from pipeline.domain.events import TERMINAL_STATUSES

        held = list(processor.book.orders())
        result.held_orders = len(held)
        result.open_orders = sum(1 for s in held if s.status not in TERMINAL_STATUSES)
        result.positions = sum(1 for _ in processor.book.positions())
        body = processor_state(processor)
        result.evicted_ids = len(body["evicted"])
        result.position_fills = sum(
            len(p["fills"]) + len(p["compacted"]) for p in body["positions"]
        )
        result.event_time_span_h = (n - 1) * STEP_MS / HOUR_MS
        group = "bench-recovery"
        store = FileCheckpoints(work / "checkpoints")
        await store.save(
            Checkpoint(
                group=group, topic=TOPIC, partition=0, offset=processor.next_offset,
                fingerprint=record_fingerprint(last), written_at=int(time.time() * 1000),
                body=body,
            )
        )  # fmt: skip
        del processor, held, body
        gc.unfreeze()
        gc.collect()
        result.checkpoint_bytes = store.path(group, TOPIC, 0).stat().st_size
        loaded = time.perf_counter()
        checkpoint = await store.load(group, TOPIC, 0)
        assert checkpoint is not None
        restore_processor(checkpoint.body, PROCESSING)
        result.checkpoint_load_restore_s = time.perf_counter() - loaded
        del checkpoint
        gc.collect()

        await _produce_more(broker.bootstrap, flow, n, NEW_RECORDS)
        result.runs.append(
            await _worker_run(broker.bootstrap, "checkpoint", n, group, store, timeout_s=300)
        )
        if n <= baseline_max:
            baseline = "bench-recovery-no-checkpoint"
            await _commit(broker.bootstrap, baseline, tp, n)
            result.runs.append(
                await _worker_run(
                    broker.bootstrap, "no checkpoint (replay from 0)", n, baseline, None,
                    timeout_s=300 + n / 5_000,
                )
            )  # fmt: skip
    finally:
        broker.stop()
        with contextlib.suppress(OSError):
            for path in sorted(work.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            work.rmdir()
    return result


# -- item 5: failover between two worker processes ----------------------------------------

FAILOVER_PARTITIONS = 4
SESSION_TIMEOUT_S = 6.0
_RECOVERED = re.compile(r"recovered raw\.binance:(\d+) to offset (\d+) in ([\d.]+)s")


@dataclass
class PartitionGap:
    partition: int
    owner: str  # "killed" or "survivor" before the kill
    last_before_kill_s: float  # kill time - last output of the partition before it
    gap_s: float  # seconds without any output: last before the kill -> first after it
    gap_to_new_s: float  # last before the kill -> first output of records not output before
    longest_pause_s: float  # longest time without output from the last one before the kill on
    reemitted: int  # outputs after the kill of records already output before it
    survivor_recovery_s: float | None  # the survivor's recovery of the partition (its log)
    orders_in_checkpoint: int  # orders held by the partition's checkpoint at the kill
    checkpoint_bytes: int


@dataclass
class FailoverResult:
    session_timeout_s: float
    rebalance_timeout_s: float
    heartbeat_s: float
    checkpoint_interval_s: float
    rate: float
    partitions: int
    order_retention_h: float
    killed_partitions: list[int] = field(default_factory=list)
    gaps: list[PartitionGap] = field(default_factory=list)
    # the survivor's timeline after the kill, from its log (seconds after the kill)
    rebalance_seen_s: float | None = None  # "Heartbeat failed ... rebalancing"
    rejoining_s: float | None = None  # "(Re-)joining group": its partitions checkpointed
    synced_s: float | None = None  # "Successfully synced group" (the new assignment)
    recovered_s: float | None = None  # the last raw.binance partition recovered
    note: str = ""


class _WorkerProcess:
    """`pipeline worker --role process` in a process of its own, its log lines timestamped."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_path
        self.lines: list[tuple[float, str]] = []  # (wall time, line)
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pipeline.cli", "worker", "--role", "process",
            "--metrics-port", "0",
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        with self.log_path.open("w") as log:
            async for raw in self.process.stdout:
                line = raw.decode(errors="replace").rstrip()
                self.lines.append((time.time(), line))
                log.write(line + "\n")
                log.flush()

    def first(self, text: str, since: float) -> float | None:
        """Wall time of the first log line containing `text` at or after `since`."""
        return next((at for at, line in self.lines if at >= since and text in line), None)

    def recovered(self, since: float = 0.0) -> dict[int, tuple[float, float]]:
        """raw.binance partition -> (wall time, seconds) of its latest recovery since `since`."""
        out = {}
        for at, line in self.lines:
            match = _RECOVERED.search(line)
            if match and at >= since:
                out[int(match.group(1))] = (at, float(match.group(3)))
        return out

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            if self._reader is not None:
                await self._reader
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            await self._reader


async def bench_failover(
    rate: float, steady_s: float, after_s: float, retention_h: float
) -> FailoverResult:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.partitioner import murmur2

    from pipeline.kafka import ORDERS_STATE, ensure_topics
    from pipeline.local.broker import TansuBroker

    interval = 1.0
    result = FailoverResult(
        session_timeout_s=SESSION_TIMEOUT_S, rebalance_timeout_s=SESSION_TIMEOUT_S,
        heartbeat_s=1.0, checkpoint_interval_s=interval, rate=rate,
        partitions=FAILOVER_PARTITIONS, order_retention_h=retention_h,
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    broker = TansuBroker(work / "tansu.log")
    broker.start()
    env = dict(os.environ)
    env.update(
        PIPELINE_KAFKA_BOOTSTRAP=broker.bootstrap,
        PIPELINE_DATA_DIR=str(work / "data"),
        PIPELINE_CHECKPOINTS="file",
        PIPELINE_CHECKPOINT_INTERVAL=str(interval),
        PIPELINE_CHECKPOINT_RECORDS="100000",
        PIPELINE_BROKER_SESSION_TIMEOUT=str(SESSION_TIMEOUT_S),
        PIPELINE_BROKER_REBALANCE_TIMEOUT=str(SESSION_TIMEOUT_S),
        PIPELINE_BROKER_HEARTBEAT_INTERVAL="1",
        PIPELINE_ORDER_RETENTION_HOURS=str(retention_h),
        PIPELINE_LOG_LEVEL="INFO",
    )
    workers = [_WorkerProcess(n, env, work / f"worker-{n}.log") for n in ("a", "b")]
    outputs: list[tuple[int, int, int]] = []  # (raw partition, Kafka timestamp, updated_at)
    stop = asyncio.Event()

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap,
                                    enable_idempotence=False, linger_ms=5)  # fmt: skip
        await producer.start()
        flow = BinanceFlow(clock=True)
        tick = 0.05
        try:
            next_at = time.monotonic()
            while not stop.is_set():
                futures = [
                    await producer.send(TOPIC, value, key=key)
                    for key, value in flow.take(max(1, int(rate * tick)))
                ]
                await asyncio.gather(*futures)
                next_at += tick
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            await producer.stop()

    async def watch() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        tps = [TopicPartition(ORDERS_STATE, p) for p in range(FAILOVER_PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=100, max_records=5000)
                for records in fetched.values():
                    for record in records:
                        value = orjson.loads(record.value)
                        key = envelope_key("binance", value["account"], value["venue_symbol"])
                        raw = (murmur2(key) & 0x7FFFFFFF) % FAILOVER_PARTITIONS
                        outputs.append((raw, record.timestamp, value["updated_at"]))
        finally:
            await consumer.stop()

    tasks: list[asyncio.Task[None]] = []
    try:
        await ensure_topics(broker.bootstrap, partitions=FAILOVER_PARTITIONS)
        tasks = [asyncio.create_task(produce()), asyncio.create_task(watch())]
        await workers[0].start()
        await _wait_for(lambda: len(workers[0].recovered()) == FAILOVER_PARTITIONS, 60, "a")
        joined = time.time()
        await workers[1].start()
        # both own part of raw.binance once b's join was answered and both recovered again
        await _wait_for(
            lambda: (
                workers[1].recovered(joined)
                and len(workers[0].recovered(joined)) + len(workers[1].recovered(joined))
                >= FAILOVER_PARTITIONS
            ),
            90,
            "the two-worker assignment",
        )
        await asyncio.sleep(steady_s)
        owners = dict.fromkeys(workers[0].recovered(joined), "a")
        for p, (at, _) in workers[1].recovered(joined).items():
            if p not in owners or at > workers[0].recovered(joined)[p][0]:
                owners[p] = "b"
        victim = max(("a", "b"), key=lambda n: sum(1 for o in owners.values() if o == n))
        survivor = workers[1] if victim == "a" else workers[0]
        killed = workers[0] if victim == "a" else workers[1]
        result.killed_partitions = sorted(p for p, o in owners.items() if o == victim)
        kill_wall = time.time()
        killed.kill()
        kill_ms = int(kill_wall * 1000)
        held = _checkpoint_sizes(work / "data" / "checkpoints")
        print(f"  killed worker {victim} (partitions {result.killed_partitions}) ...", flush=True)
        await _wait_for(
            lambda: set(survivor.recovered(kill_wall)) >= set(range(FAILOVER_PARTITIONS)),
            after_s,
            "the survivor's recovery",
        )
        await asyncio.sleep(5)  # outputs after the recovery
        stop.set()
        await asyncio.gather(*tasks)
        tasks = []
        recovered = survivor.recovered(kill_wall)
        for name, text in (("rebalance_seen_s", "because it is rebalancing"),
                           ("rejoining_s", "(Re-)joining group"),
                           ("synced_s", "Successfully synced group")):  # fmt: skip
            at = survivor.first(text, kill_wall)
            setattr(result, name, None if at is None else at - kill_wall)
        if recovered:
            result.recovered_s = max(at for at, _ in recovered.values()) - kill_wall
        for p in range(FAILOVER_PARTITIONS):
            mine = [(ts, upd) for raw, ts, upd in outputs if raw == p]
            before = [(ts, upd) for ts, upd in mine if ts <= kill_ms]
            after = [(ts, upd) for ts, upd in mine if ts > kill_ms]
            if not before or not after:
                result.note += f"partition {p}: no output before or after the kill; "
                continue
            last_ts = max(ts for ts, _ in before)
            newest = max(upd for _, upd in before)
            fresh = [ts for ts, upd in after if upd > newest]
            stamps = sorted([last_ts] + [ts for ts, _ in after])
            pause = max(b - a for a, b in itertools.pairwise(stamps))
            result.gaps.append(
                PartitionGap(
                    partition=p,
                    owner="killed" if owners.get(p) == victim else "survivor",
                    last_before_kill_s=(kill_ms - last_ts) / 1000,
                    gap_s=(min(ts for ts, _ in after) - last_ts) / 1000,
                    gap_to_new_s=(min(fresh) - last_ts) / 1000 if fresh else float("nan"),
                    longest_pause_s=pause / 1000,
                    reemitted=sum(1 for _, upd in after if upd <= newest),
                    survivor_recovery_s=recovered[p][1] if p in recovered else None,
                    orders_in_checkpoint=held.get(p, (0, 0))[0],
                    checkpoint_bytes=held.get(p, (0, 0))[1],
                )
            )
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for worker in workers:
            await worker.stop()
        broker.stop()
        print(f"  worker logs and broker log kept in {work}", flush=True)
    return result


def _checkpoint_sizes(root: Path) -> dict[int, tuple[int, int]]:
    """raw.binance partition -> (orders held, bytes) of its checkpoint file under `root`."""
    from pipeline.streams.checkpoint import decode

    out = {}
    for path in root.glob("*/raw.binance-*.ckpt"):
        data = path.read_bytes()
        partition = int(path.stem.rsplit("-", 1)[1])
        out[partition] = (len(decode(data, str(path)).body["orders"]), len(data))
    return out


async def _wait_for(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


# -- report -------------------------------------------------------------------------------


def print_history(results: list[HistoryResult]) -> None:
    print(
        f"{'history':>11} {'mode':<30} {'start->1st out':>14} {'assigned':>9} {'->1st out':>9} "
        f"{'recovery':>9} {'replayed':>11} {'ckpt bytes':>11} {'load+restore':>12}"
    )
    for r in results:
        for run in r.runs:
            print(
                f"{r.history:>11,} {run.mode:<30} {run.start_to_first_output_s:>13.2f}s "
                f"{run.start_to_assigned_s:>8.2f}s "
                f"{run.start_to_first_output_s - run.start_to_assigned_s:>8.2f}s "
                f"{run.recovery_s:>8.2f}s "
                f"{run.replayed_records:>11,} {r.checkpoint_bytes:>11,} "
                f"{r.checkpoint_load_restore_s:>11.3f}s"
            )
    for r in results:
        print(
            f"  {r.history:,} records ({r.event_time_span_h:,.0f} h of event time): state "
            f"{r.held_orders:,} orders held ({r.open_orders:,} open), {r.positions} positions "
            f"with {r.position_fills:,} fills/fill ids, {r.evicted_ids:,} tombstones; produced "
            f"+ folded in {r.produce_s:.0f}s (fold {r.fold_s:.0f}s); broker RSS "
            f"{_gib(r.broker_rss_bytes)}" + (f"; {r.note}" if r.note else ""),
            flush=True,
        )
    flat = [r for r in results if r.runs]
    if len(flat) >= 2:
        first, last = flat[0].runs[0], flat[-1].runs[0]
        ratio = last.start_to_first_output_s / first.start_to_first_output_s
        print(
            f"  restart-to-first-output, checkpoint: {first.start_to_first_output_s:.2f}s at "
            f"{first.history:,} -> {last.start_to_first_output_s:.2f}s at {last.history:,}: "
            f"x{ratio:.2f} (target: within x2) {'met' if ratio <= 2 else 'NOT met'}",
            flush=True,
        )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def print_failover(result: FailoverResult) -> None:
    bound = result.session_timeout_s + 5
    print(
        f"failover: 2 workers, {result.partitions} partitions of {TOPIC}, {result.rate:,.0f} "
        f"records/s, session/rebalance timeout {result.session_timeout_s:.0f}s, heartbeat "
        f"{result.heartbeat_s:.0f}s, checkpoints every {result.checkpoint_interval_s:.0f}s, "
        f"order retention {result.order_retention_h:g} h; killed the owner of "
        f"{result.killed_partitions}"
    )
    print(
        f"  survivor after the kill: rebalance seen {_s(result.rebalance_seen_s)}, rejoining "
        f"(revoked partitions checkpointed) {_s(result.rejoining_s)}, new assignment "
        f"{_s(result.synced_s)}, partitions recovered {_s(result.recovered_s)}"
    )
    print(
        f"{'partition':>9} {'owner':<9} {'gap':>7} {'gap to new':>10} {'longest':>8} "
        f"{'re-emitted':>10} {'recovery':>9} {'ckpt orders':>11} {'ckpt bytes':>11}"
    )
    for g in result.gaps:
        print(
            f"{g.partition:>9} {g.owner:<9} {g.gap_s:>6.2f}s {g.gap_to_new_s:>9.2f}s "
            f"{g.longest_pause_s:>7.2f}s {g.reemitted:>10,} {_s(g.survivor_recovery_s):>9} "
            f"{g.orders_in_checkpoint:>11,} {g.checkpoint_bytes:>11,}"
        )
    moved = [g for g in result.gaps if g.owner == "killed"]
    if moved:
        worst = max(max(g.gap_s, g.gap_to_new_s) for g in moved)
        print(
            f"  moved partitions: worst gap {worst:.2f}s vs session timeout + 5s = {bound:.0f}s: "
            f"{'met' if worst <= bound else 'NOT met'}"
            + (f"; {result.note}" if result.note else ""),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--history", default="100000,1000000,10000000",
        help="comma-separated history sizes (raw records); empty: none",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-max", type=int, default=1_000_000,
        help="also measure the no-checkpoint rebuild up to this history size",
    )  # fmt: skip
    parser.add_argument("--failover", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rate", type=float, default=2_000, help="failover: records/s produced")
    parser.add_argument(
        "--failover-retention-hours", type=float, default=1.0,
        help="failover: the workers' PIPELINE_ORDER_RETENTION_HOURS",
    )  # fmt: skip
    parser.add_argument(
        "--steady", type=float, default=15, help="failover: seconds before the kill"
    )
    parser.add_argument("--reserve-gib", type=float, default=3.0,
                        help="stop producing history when the host's available memory falls "
                        "below this")  # fmt: skip
    parser.add_argument("--json", type=Path, default=Path("recovery-results.json"))
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.history.split(",") if s.strip()]
    reserve = int(args.reserve_gib * GiB)
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, hot path "
        f"{compiled.STATUS.reason}; history: one partition of {TOPIC}, {OPEN_ORDERS:,} orders "
        f"open at any time, {ACCOUNTS * len(SYMBOLS)} positions, event time +{STEP_MS} ms per "
        f"record; processing: order retention {PROCESSING.order_retention_ms / HOUR_MS:.0f} h, "
        f"tombstones {PROCESSING.tombstone_ms / HOUR_MS:.0f} h, lateness "
        f"{PROCESSING.lateness_ms} ms",
        flush=True,
    )
    out: dict[str, Any] = {"host": platform.node(), "started_at": time.time(), "history": []}
    results: list[HistoryResult] = []
    per_record = 0.0  # broker bytes per raw record, measured on the first size
    for size in sizes:
        requested = size
        note = ""
        if per_record:
            fits = int((mem_available() - reserve) / per_record) // 100_000 * 100_000
            if fits < size:
                note = (
                    f"{size:,} requested; at {per_record:,.0f} broker bytes per record only "
                    f"{fits:,} fit in the available {_gib(mem_available())} (reserve "
                    f"{_gib(reserve)})"
                )
                requested = fits
        print(f"history {requested:,} records ...", flush=True)
        result = asyncio.run(bench_history(requested, args.baseline_max, reserve))
        if note:
            result.note = f"{note}; {result.note}" if result.note else note
        result.requested = size
        per_record = max(per_record, result.broker_rss_bytes / max(1, result.history))
        results.append(result)
        out["history"] = [asdict(r) for r in results]
        args.json.write_text(json.dumps(out, indent=2))
        print_history(results[-1:])
    if len(results) > 1:
        print("\n# recovery")
        print_history(results)
    if args.failover:
        print("failover ...", flush=True)
        failover = asyncio.run(
            bench_failover(
                args.rate, args.steady, after_s=90, retention_h=args.failover_retention_hours
            )
        )
        out["failover"] = asdict(failover)
        args.json.write_text(json.dumps(out, indent=2))
        print_failover(failover)
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
