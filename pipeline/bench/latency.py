"""Latency at a fixed offered load: raw production -> the row in ClickHouse.

A broker and store of their own; the process and sink roles run in two processes as in the
throughput figure (endtoend.py `--serve`). Once both have their partitions, the generated
flow is produced at `rate` raw envelopes per second for `seconds`, each order's event times
set to when its messages are produced, so a row's event time is its raw event's production
time. The sink times every row it stores from that event time to the end of the insert that
stored it: `trading.orders` (the order state's `updated_at`, the raw event that made it),
`trading.positions` (the fill that moved it), `trading.order_events` (each canonical event;
these wait for the reorder window, `lateness_ms`, 5 s by default). The process role also
reports how long its event loop was blocked (a 10 ms sleeper's overshoot).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pipeline.bench.flow import BenchFlow, generate

TARGETS: dict[str, str] = {
    "orders": "trading.orders",
    "positions": "trading.positions",
    "order_events": "trading.order_events",
}


async def _offer(bootstrap: str, flow: BenchFlow, rate: float) -> float:
    """Produce the flow at `rate` records/s (in 10 ms ticks); the rate achieved."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False,
                                linger_ms=2)  # fmt: skip
    await producer.start()
    started = time.monotonic()
    sent = 0
    futures: list[Any] = []
    try:
        records = flow.records
        while sent < len(records):
            due = min(len(records), int((time.monotonic() - started) * rate) + 1)
            for topic, key, value in records[sent:due]:
                futures.append(await producer.send(topic, value, key=key))
            sent = due
            if len(futures) > 2000:
                await asyncio.gather(*futures)
                futures = []
            await asyncio.sleep(0.01)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent / (time.monotonic() - started)


def measure_latency(
    work: Path, rate: float, seconds: float, seed: int, partitions: int = 4
) -> dict[str, Any]:
    """Offer `rate` events/s for `seconds`; latency percentiles per table, loop blocking."""
    from pipeline.bench.run import _child, _create_raw_topics, _read_line
    from pipeline.kafka import PIPELINE_TOPICS, ensure_topics
    from pipeline.local.broker import TansuBroker

    data = work / "latency"
    data.mkdir(parents=True, exist_ok=True)
    broker = TansuBroker(data / "tansu.log")
    broker.start()
    sink = process = None
    try:
        asyncio.run(_create_raw_topics(broker.bootstrap, partitions))
        asyncio.run(ensure_topics(broker.bootstrap, partitions, specs=PIPELINE_TOPICS))
        common = ("--bootstrap", broker.bootstrap, "--data-dir", str(data), "--serve",
                  "--timeout", str(seconds + 300))  # fmt: skip
        sink = _child("pipeline.bench.endtoend", "sink", *common, stdin=True)
        _read_line(sink, 60)
        process = _child("pipeline.bench.endtoend", "process", *common, stdin=True)
        _read_line(process, 60)
        per_order = 3.33  # raw envelopes per order in the generated flow (duplicates included)
        start_ms = int(time.time() * 1000) + 200
        flow = generate(int(rate * seconds), seed=seed + 1000, t0=start_ms,
                        step_ms=1000 * per_order / rate)  # fmt: skip
        achieved = asyncio.run(_offer(broker.bootstrap, flow, rate))
        time.sleep(8.0)  # the reorder window (5 s) and the idle flush (2 s) release the rest
        assert process.stdin is not None
        assert sink.stdin is not None
        process.stdin.write(b"stop\n")
        process.stdin.close()
        proc = _read_line(process, 120)
        sink.stdin.write(b"target 0\n")
        sink.stdin.close()
        stored = _read_line(sink, 120)
    finally:
        for child in (sink, process):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
        broker.stop()
    return {
        "offered_events_per_s": rate,
        "achieved_events_per_s": round(achieved, 1),
        "seconds": seconds,
        "events": len(flow.records),
        "targets": {TARGETS[t]: v for t, v in stored["latency"].items() if v},
        "event_loop_blocked": proc.get("loop_lag", {}),
        "process_peak_rss_mb": proc.get("peak_rss_mb"),
        "sink_peak_rss_mb": stored.get("peak_rss_mb"),
    }
