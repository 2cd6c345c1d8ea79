"""`pipeline bench`: one seeded run on the embedded stack, peers and pipeline side by side.

1. Start a Tansu broker of its own (a temporary directory holds it and the chDB store),
   generate `events` raw envelopes (flow.py) and load them once into `raw.*`.
2. One after the other on that same data, each in its own process and consumer group: the
   bare consumer (limit), the minimal fold on aiokafka, on faust-streaming (the naive peer)
   and on Quix Streams when installed (peers.py); then the real pipeline, the process and
   sink roles in two processes (endtoend.py), from the first raw batch to the last row stored
   in ClickHouse.
3. Check the tables against the generator's expected result: a fast wrong answer fails the
   run (exit code 1).
4. Optionally (`--latency`), the latency at a fixed offered load (latency.py).

Figures per program: events/s, CPU µs per event (its own process, from its first record to
its end), peak RSS. Each stage has a time limit, so a run is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import orjson

from pipeline.bench import report
from pipeline.bench.flow import BenchFlow, generate

PEER_LABELS: dict[str, str] = {
    "limit": report.HEADLINES["limit_events_per_s"],
    "handfold": report.HEADLINES["handfold_events_per_s"],
    "quix": report.HEADLINES["quix_events_per_s"],
    "faust": report.HEADLINES["naive_events_per_s"],
}
PEER_KEYS: dict[str, str] = {
    "limit": "limit_events_per_s",
    "handfold": "handfold_events_per_s",
    "quix": "quix_events_per_s",
    "faust": "naive_events_per_s",
}


@dataclass(frozen=True)
class BenchOptions:
    events: int = 200_000
    seed: int = 1
    partitions: int = 4
    peers: tuple[str, ...] = ("limit", "handfold", "quix", "faust")
    peer_timeout: float = 90.0  # per peer (faust is slow: it reports what it did by then)
    pipeline_timeout: float = 600.0
    output: Path = Path("bench-results.json")
    compare: Path | None = None
    work_dir: Path | None = None
    keep: bool = False
    latency_rate: float = 0.0  # events/s offered for the latency figure; 0 = not measured
    latency_seconds: float = 60.0


#: Peers whose framework is an optional extra (`bench`), by the module they import.
OPTIONAL_PEERS = {"quix": "quixstreams", "faust": "faust"}


def peer_available(name: str) -> bool:
    """False for a peer whose framework is not installed (the `bench` extra is not)."""
    module = OPTIONAL_PEERS.get(name)
    return module is None or importlib.util.find_spec(module) is not None


async def load(bootstrap: str, flow: BenchFlow, partitions: int) -> float:
    """Create the topics and produce the flow into `raw.*`; the produce rate (records/s)."""
    from aiokafka import AIOKafkaProducer

    from pipeline.bench.peers import OUT_TOPIC
    from pipeline.kafka import PIPELINE_TOPICS, TopicSpec, ensure_topics
    from pipeline.streams.producer import BatchingProducer

    await _create_raw_topics(bootstrap, partitions)
    await ensure_topics(bootstrap, partitions, specs=(*PIPELINE_TOPICS, TopicSpec(OUT_TOPIC)))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5,
        max_batch_size=1 << 20,
    )  # fmt: skip
    await producer.start()
    started = time.perf_counter()
    try:
        batcher = BatchingProducer(producer)
        chunk = 20_000
        for start in range(0, len(flow.records), chunk):
            per_topic: dict[str, list[tuple[bytes, bytes]]] = {}
            for topic, key, value in flow.records[start : start + chunk]:
                per_topic.setdefault(topic, []).append((key, value))
            await asyncio.gather(*await batcher.send_all(per_topic))
    finally:
        await producer.stop()
    return len(flow.records) / (time.perf_counter() - started)


async def _create_raw_topics(bootstrap: str, partitions: int) -> None:
    """raw.* with their retention stated: Quix Streams derives its state topics' settings
    from the input topics' `retention.ms`, and the embedded broker only describes the
    settings a topic was created with."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from pipeline.kafka import RAW_TOPICS

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        configs = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
        await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=configs) for name in RAW_TOPICS]
        )
    finally:
        await admin.close()


def _child(module: str, *args: str, stdin: bool = False) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=env,
    )


def _last_json(text: bytes) -> dict[str, Any] | None:
    for line in reversed(text.decode(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                return orjson.loads(line)
    return None


def run_peer(name: str, bootstrap: str, events: int, timeout: float) -> dict[str, Any]:
    """Run one peer to `events` records (or `timeout`); its figures."""
    with tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".json") as file:
        child = _child(
            "pipeline.bench.peers", name, "--bootstrap", bootstrap, "--events", str(events),
            "--group", f"bench-{name}-{time.time_ns()}", "--timeout", str(timeout),
            "--result", file.name,
        )  # fmt: skip
        try:
            out, _ = child.communicate(timeout=timeout + 60)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
        found = _last_json(Path(file.name).read_bytes()) or _last_json(out)
    result = found or {"skipped": f"no result (exit code {child.returncode})"}
    result["label"] = PEER_LABELS[name]
    if result.get("events", 0) and result["events"] < events:
        result["label"] += f" [{result['events']:,} of {events:,} in the time limit]"
    return result


def _read_line(child: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The next JSON line of a child's stdout (within `timeout`)."""
    import selectors

    assert child.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = child.stdout.readline()
        if not line:
            break
        if line.strip().startswith(b"{"):
            return orjson.loads(line)
    raise TimeoutError(f"no answer from {child.args!r} within {timeout:.0f}s")


def run_process_alone(bootstrap: str, data_dir: Path, events: int, timeout: float) -> dict:
    """The process role alone (no sink running): its throughput on the whole job."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = _child(
        "pipeline.bench.endtoend", "process", "--bootstrap", bootstrap, "--data-dir",
        str(data_dir), "--timeout", str(timeout), "--events", str(events),
        "--group", "bench-processor-alone", "--sink-group", "bench-sink-alone",
    )  # fmt: skip
    try:
        proc = _read_line(process, timeout)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    seconds = proc["caught_up"] - proc["first"]
    cpu = proc["cpu_at_caught_up"] - proc["cpu_at_first"]
    return {
        "label": report.HEADLINES["process_events_per_s"],
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "cpu_us_per_event": round(cpu * 1e6 / events, 2),
        "peak_rss_mb": proc["peak_rss_mb"],
        "messages_out": proc["messages_out"],
        "messages_per_event": round(proc["messages_out"] / events, 3),
        "stats": proc["stats"],
        "orders_held": proc["orders_held"],
        # an upper bound: the whole process (interpreter, buffers) over the orders it holds
        "peak_rss_bytes_per_order_held": round(
            proc["peak_rss_mb"] * 2**20 / max(1, proc["orders_held"])
        ),
        "event_loop_blocked": proc["loop_lag"],
    }


def run_pipeline(bootstrap: str, data_dir: Path, events: int, timeout: float) -> dict[str, Any]:
    """Process and sink in two processes; the end-to-end figures."""
    common = ("--bootstrap", bootstrap, "--data-dir", str(data_dir), "--timeout", str(timeout))
    sink = _child("pipeline.bench.endtoend", "sink", *common, stdin=True)
    process: subprocess.Popen[bytes] | None = None
    try:
        _read_line(sink, 60)  # {"ready": true}: the sink's group join is not throughput
        process = _child("pipeline.bench.endtoend", "process", *common, "--events", str(events))
        proc = _read_line(process, timeout)
        process.wait(timeout=60)
        assert sink.stdin is not None
        sink.stdin.write(f"target {proc['messages_out']}\n".encode())
        sink.stdin.close()
        stored = _read_line(sink, timeout)
        sink.wait(timeout=60)
    finally:
        for child in (sink, process):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
    first = proc["first"]
    timeline = stored["timeline"]
    state_rows_at = _first_at(timeline, proc["messages_at_caught_up"])
    all_rows_at = _first_at(timeline, proc["messages_out"])
    process_cpu = proc["cpu_s"] - proc["cpu_at_first"]
    sink_cpu = stored["cpu_s"] - stored["cpu_at_ready"]
    e2e_seconds = (state_rows_at - first) if state_rows_at and first else None
    return {
        "label": report.HEADLINES["pipeline_events_per_s"],
        "events": events,
        "seconds": round(e2e_seconds, 3) if e2e_seconds else None,
        "events_per_s": round(events / e2e_seconds, 1) if e2e_seconds else None,
        "cpu_us_per_event": round((process_cpu + sink_cpu) * 1e6 / events, 2),
        "peak_rss_mb": f"{proc['peak_rss_mb']:.0f}+{stored['peak_rss_mb']:.0f}",
        "process_peak_rss_mb": proc["peak_rss_mb"],
        "sink_peak_rss_mb": stored["peak_rss_mb"],
        "process_cpu_us_per_event": round(process_cpu * 1e6 / events, 2),
        "sink_cpu_us_per_event": round(sink_cpu * 1e6 / events, 2),
        "process_seconds_to_caught_up": round(proc["caught_up"] - first, 3),
        "rows": proc["messages_out"],
        "all_rows_seconds": round(all_rows_at - first, 3) if all_rows_at else None,
        "sink_errors": stored["errors"],
    }


def run_sink_alone(bootstrap: str, data_dir: Path, rows: int, timeout: float) -> dict:
    """The sink role alone, on the output topics the pipeline filled: `rows` records into
    a store of its own, from its partitions' assignment to the last row stored."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sink = _child(
        "pipeline.bench.endtoend", "sink", "--bootstrap", bootstrap, "--data-dir",
        str(data_dir), "--timeout", str(timeout), "--sink-group", "bench-sink-alone",
        stdin=True,
    )  # fmt: skip
    try:
        _read_line(sink, 60)
        assert sink.stdin is not None
        sink.stdin.write(f"target {rows}\n".encode())
        sink.stdin.close()
        stored = _read_line(sink, timeout)
        sink.wait(timeout=60)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    timeline = stored["timeline"]
    started = stored["ready_at"]  # its records are all waiting: it starts at once
    done = _first_at(timeline, rows)
    seconds = (done - started) if done and started else None
    cpu = stored["cpu_s"] - stored["cpu_at_ready"]
    return {
        "label": "our sink role alone (output records -> ClickHouse)",
        "rows": rows,
        "seconds": round(seconds, 3) if seconds else None,
        "rows_per_s": round(rows / seconds, 1) if seconds else None,
        "cpu_us_per_row": round(cpu * 1e6 / rows, 2),
        "peak_rss_mb": stored["peak_rss_mb"],
    }


def _first_at(timeline: list[list[float]], rows: int) -> float | None:
    for at, written in timeline:
        if written >= rows:
            return at
    return None


def check_tables(store_path: Path, flow: BenchFlow) -> dict[str, Any]:
    """The tables against the generator's expected result."""
    from pipeline.config import ClickHouseTarget
    from pipeline.sink.store import open_store

    store = open_store(ClickHouseTarget(scheme="chdb", path=store_path))
    try:
        orders = store.query(
            "SELECT venue, account, order_id, status, filled_qty FROM trading.orders FINAL"
        ).rows
        positions = store.query(
            "SELECT venue, account, symbol, qty, fill_count FROM trading.positions FINAL"
        ).rows
        fills = store.query(
            # a fill derived from an order report and voided by the real trade is a row of
            # quantity 0 (pipeline/domain/implied.py)
            "SELECT venue, account, order_id, count() FROM trading.fills FINAL "
            "WHERE qty != 0 GROUP BY venue, account, order_id"
        ).rows
        letters = store.query("SELECT count() FROM trading.dead_letters").rows[0][0]
    finally:
        store.close()
    expected = flow.expected
    got_orders = {(v, a, o): (s, Decimal(q)) for v, a, o, s, q in orders}
    bad_orders = [
        key for key, want in expected.orders.items()
        if got_orders.get(key) != (want.status, want.filled_qty)
    ]  # fmt: skip
    extra_orders = len(set(got_orders) - set(expected.orders))
    got_positions = {(v, a, s): (Decimal(q), int(n)) for v, a, s, q, n in positions}
    bad_positions = [
        key for key, want in expected.positions.items() if got_positions.get(key) != want
    ]
    extra_positions = len(set(got_positions) - set(expected.positions))
    fill_rows = sum(int(row[3]) for row in fills)
    ok = (
        not bad_orders and not extra_orders and not bad_positions and not extra_positions
        and fill_rows == expected.fill_count and letters == 0
    )  # fmt: skip
    summary = (
        f"orders {len(expected.orders) - len(bad_orders)}/{len(expected.orders)} match"
        f"{f', {extra_orders} unexpected' if extra_orders else ''}; positions "
        f"{len(expected.positions) - len(bad_positions)}/{len(expected.positions)} match"
        f"{f', {extra_positions} unexpected' if extra_positions else ''}; fills "
        f"{fill_rows}/{expected.fill_count}; dead letters {letters}"
    )
    return {
        "ok": ok,
        "summary": summary,
        "mismatched_orders": [list(key) for key in bad_orders[:5]],
        "mismatched_positions": [list(key) for key in bad_positions[:5]],
    }


def run_bench(options: BenchOptions, out: TextIO) -> int:
    """The whole run; 0 when the pipeline's tables matched, 1 otherwise."""
    from pipeline import compiled
    from pipeline.local.broker import TansuBroker

    work = options.work_dir or Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    flow = generate(options.events, options.seed)
    events = len(flow.records)
    print(f"# {events:,} raw envelopes ({flow.orders:,} orders, five venues, "
          f"{flow.duplicates:,} duplicates, {flow.reordered:,} reordered), seed "
          f"{options.seed}; {platform.python_implementation()} {platform.python_version()}, "
          f"hot path {compiled.STATUS.reason}; work dir {work}", file=out, flush=True)  # fmt: skip
    results: dict[str, Any] = {
        "events": events,
        "orders": flow.orders,
        "seed": options.seed,
        "partitions": options.partitions,
        "python": platform.python_version(),
        "hot_path": compiled.STATUS.reason,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "started_at": int(started),
        "runs": {},
        **dict.fromkeys(PEER_KEYS.values()),
    }
    broker = TansuBroker(work / "tansu.log")
    broker.start()
    try:
        rate = asyncio.run(load(broker.bootstrap, flow, options.partitions))
        results["load_events_per_s"] = round(rate, 1)
        print(f"loaded into raw.* at {rate:,.0f} records/s", file=out, flush=True)
        for name in options.peers:
            if not peer_available(name):
                results["runs"][name] = {
                    "label": PEER_LABELS[name],
                    "skipped": f"{OPTIONAL_PEERS[name]} not installed (pip install '.[bench]')",
                }
                continue
            print(f"running {name} ...", file=out, flush=True)
            result = run_peer(name, broker.bootstrap, events, options.peer_timeout)
            results["runs"][name] = result
            results[PEER_KEYS[name]] = result.get("events_per_s")
        if "limit" in options.peers and len(options.peers) > 1:
            # once more after the others: the first reader of the data also pays the
            # broker's first touch of it; the limit is the better of the two
            print("running limit again ...", file=out, flush=True)
            again = run_peer("limit", broker.bootstrap, events, options.peer_timeout)
            again["label"] += " (again, after the peers)"
            results["runs"]["limit_again"] = again
            rates = [r for r in (results["limit_events_per_s"], again.get("events_per_s")) if r]
            results["limit_events_per_s"] = max(rates) if rates else None
        print("running the pipeline (process + sink) ...", file=out, flush=True)
        figures = run_pipeline(broker.bootstrap, work, events, options.pipeline_timeout)
        results["runs"]["pipeline"] = figures
        results["pipeline_events_per_s"] = figures["events_per_s"]
        print("running the sink role alone ...", file=out, flush=True)
        sink_alone = run_sink_alone(
            broker.bootstrap, work / "sink-alone", figures["rows"], options.pipeline_timeout
        )
        results["runs"]["sink"] = sink_alone
        results["sink_rows_per_s"] = sink_alone["rows_per_s"]
        results["sink_cpu_us_per_row"] = sink_alone["cpu_us_per_row"]
        # after the pipeline: its outputs land on the same topics, which no sink reads now
        print("running the process role alone ...", file=out, flush=True)
        alone = run_process_alone(
            broker.bootstrap, work / "alone", events, options.pipeline_timeout
        )
        results["runs"]["process"] = alone
        results["process_events_per_s"] = alone["events_per_s"]
        check = check_tables(work / "store", flow)
        results["check"] = check
        results["correct"] = check["ok"]
        results["latency_p50_ms"] = results["latency_p99_ms"] = None
        if options.latency_rate > 0:
            from pipeline.bench.latency import measure_latency

            print(f"latency at {options.latency_rate:,.0f} events/s offered for "
                  f"{options.latency_seconds:.0f} s ...", file=out, flush=True)  # fmt: skip
            latency = measure_latency(
                work, options.latency_rate, options.latency_seconds, options.seed,
                options.partitions,
            )  # fmt: skip
            results["latency"] = latency
            orders = latency["targets"].get("trading.orders", {})
            results["latency_p50_ms"] = orders.get("p50_ms")
            results["latency_p99_ms"] = orders.get("p99_ms")
    finally:
        broker.stop()
        if not options.keep and options.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.time() - started, 1)
    report.ratios(results)
    report.print_table(results, out)
    report.write(results, options.output)
    print(f"figures written to {options.output}", file=out)
    if options.compare is not None:
        previous = orjson.loads(options.compare.read_bytes())
        report.compare(previous, results, out)
    return 0 if results["correct"] else 1
