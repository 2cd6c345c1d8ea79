"""The peers `pipeline bench` measures the pipeline against, each in a process of its own.

    python -m pipeline.bench.peers {limit,handfold,faust,quix} --bootstrap HOST:PORT
        --events N --group GROUP [--timeout S] [--out TOPIC]

All consume the same raw topics (loaded once by the bench) and print one JSON line with
`events`, `seconds`, `events_per_s`, `cpu_us_per_event`, `peak_rss_mb`. The clock runs from
the first record received (the group join is not throughput) to the last output delivered
and committed; a peer still running at `--timeout` reports what it did by then.

- limit: aiokafka `getmany` + `orjson.loads` of every value, nothing else (the practical
  limit of a Python consumer on this broker);
- handfold: the *minimal fold*, hand-rolled on aiokafka batches: parse the envelope, update a
  dict state per key (`venue|account|symbol`: message count, last channel, last ingest time),
  emit that state as one JSON message per input (batched per partition), commit per batch;
- faust: the same fold as a faust-streaming agent (per-event `topic.send`, the idiomatic
  form; DESIGN §2 lists the other forms tried, none faster);
- quix: the same fold as a Quix Streams application (`sdf.apply(stateful=True)` +
  `to_topic`), when `quixstreams` is installed (the `bench` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.kafka import RAW_TOPICS

OUT_TOPIC = "bench.fold"
RESULT_FILE = ""  # --result


def fold(state: dict[str, Any] | None, envelope: dict[str, Any]) -> dict[str, Any]:
    """The minimal fold every peer runs: count, last channel, last ingest time per key."""
    count = 1 if state is None else state["count"] + 1
    return {
        "venue": envelope["venue"],
        "account": envelope["account"],
        "count": count,
        "channel": envelope["channel"],
        "received_at": envelope["received_at"],
    }


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM): `ru_maxrss` would include the parent's before exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class Progress:
    """A peer's count of events folded and when it folded its first one (perf_counter)."""

    done: int = 0
    first: float | None = None


def _report(name: str, events: int, first: float | None, last: float, cpu0: float) -> None:
    seconds = (last - first) if first is not None else 0.0
    cpu = time.process_time() - cpu0
    result = {
        "name": name,
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1) if seconds > 0 else 0.0,
        "cpu_us_per_event": round(cpu * 1e6 / events, 2) if events else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }
    line = orjson.dumps(result) + b"\n"
    if RESULT_FILE:  # faust takes over stdout: the figures go to a file as well
        with open(RESULT_FILE, "wb") as out:
            out.write(line)
    os.write(1, line)


def _consumer(bootstrap: str, group: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        *RAW_TOPICS,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        rebalance_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_partition_fetch_bytes=4 << 20,
    )


async def run_limit(args: argparse.Namespace) -> None:
    consumer = _consumer(args.bootstrap, args.group)
    await consumer.start()
    loads = orjson.loads
    cpu0 = time.process_time()
    first: float | None = None
    done = 0
    deadline = time.monotonic() + args.timeout
    try:
        while done < args.events and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=200, max_records=5000)
            if not fetched:
                continue
            if first is None:
                first, cpu0 = time.perf_counter(), time.process_time()
            for records in fetched.values():
                for record in records:
                    loads(record.value)
                done += len(records)
            await consumer.commit()
        _report("limit", done, first, time.perf_counter(), cpu0)
    finally:
        await consumer.stop()


async def run_handfold(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaProducer

    from pipeline.streams.producer import BatchingProducer

    consumer = _consumer(args.bootstrap, args.group)
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, enable_idempotence=False, linger_ms=5,
        max_batch_size=1 << 20,
    )  # fmt: skip
    await producer.start()
    await consumer.start()
    batcher = BatchingProducer(producer)
    loads, dumps = orjson.loads, orjson.dumps
    state: dict[bytes, dict[str, Any]] = {}
    cpu0 = time.process_time()
    first: float | None = None
    done = 0
    deadline = time.monotonic() + args.timeout
    try:
        while done < args.events and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=200, max_records=5000)
            if not fetched:
                continue
            if first is None:
                first, cpu0 = time.perf_counter(), time.process_time()
            out: list[tuple[bytes, bytes]] = []
            for records in fetched.values():
                for record in records:
                    key = record.key or b""
                    new = state[key] = fold(state.get(key), loads(record.value))
                    out.append((key, dumps(new)))
                done += len(records)
            futures = await batcher.send_all({args.out: out})
            await asyncio.gather(*futures)
            await consumer.commit()
        _report("handfold", done, first, time.perf_counter(), cpu0)
    finally:
        await consumer.stop()
        await producer.stop()


def run_faust(args: argparse.Namespace) -> None:
    import faust

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        value_serializer="raw",
        key_serializer="raw",
        broker_session_timeout=6,
        broker_rebalance_timeout=6,
        broker_heartbeat_interval=1,
        topic_allow_declare=False,
        topic_disable_leader=True,
        web_enabled=False,
        producer_linger=0.005,
    )
    source = app.topic(*RAW_TOPICS, value_type=bytes, key_type=bytes)
    sink = app.topic(args.out, value_type=bytes, key_type=bytes)
    state: dict[bytes, dict[str, Any]] = {}
    progress = Progress()
    cpu0 = [time.process_time()]

    def finish() -> None:
        _report("faust", progress.done, progress.first, time.perf_counter(), cpu0[0])
        os._exit(0)  # faust's shutdown takes seconds and is not what is measured

    @app.agent(source)
    async def minimal_fold(stream: Any) -> None:
        loads, dumps = orjson.loads, orjson.dumps
        async for event in stream.events():
            if progress.first is None:
                progress.first = time.perf_counter()
                cpu0[0] = time.process_time()
            key = event.key or b""
            new = state[key] = fold(state.get(key), loads(event.value))
            await sink.send(key=key, value=dumps(new))
            progress.done += 1
            if progress.done >= args.events:
                finish()

    @app.task
    async def watchdog() -> None:
        await asyncio.sleep(args.timeout)
        finish()

    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()


def run_quix(args: argparse.Namespace) -> None:
    import tempfile

    from quixstreams import Application

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=tempfile.mkdtemp(prefix="bench-quix-"),
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
        producer_extra_config={"enable.idempotence": False},
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )
    progress = Progress()
    cpu0 = [time.process_time()]
    sink = app.topic(args.out, value_serializer="bytes", key_serializer="bytes")

    def finish() -> None:
        _report("quix", progress.done, progress.first, time.perf_counter(), cpu0[0])
        os._exit(0)

    def step(value: dict[str, Any], quix_state: Any) -> bytes:
        if progress.first is None:
            progress.first = time.perf_counter()
            cpu0[0] = time.process_time()
        new = fold(quix_state.get("s"), value)
        quix_state.set("s", new)
        progress.done += 1
        return orjson.dumps(new)

    def count(_value: Any) -> None:
        if progress.done >= args.events:
            finish()

    for name in RAW_TOPICS:
        topic = app.topic(name, value_deserializer="json", key_deserializer="bytes")
        sdf = app.dataframe(topic)
        sdf = sdf.apply(step, stateful=True)
        sdf.to_topic(sink)
        sdf.update(count)

    import threading

    timer = threading.Timer(args.timeout, finish)
    timer.daemon = True
    timer.start()
    app.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline.bench.peers")
    parser.add_argument("name", choices=["limit", "handfold", "faust", "quix"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out", default=OUT_TOPIC)
    parser.add_argument("--result", default="", help="also write the figures to this file")
    args = parser.parse_args(argv)
    global RESULT_FILE
    RESULT_FILE = args.result
    if args.name == "limit":
        asyncio.run(run_limit(args))
    elif args.name == "handfold":
        asyncio.run(run_handfold(args))
    elif args.name == "faust":
        run_faust(args)
    else:
        run_quix(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
