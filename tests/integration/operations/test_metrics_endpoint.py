"""The /metrics endpoint of a process running the process and sink roles, scraped while the
scenario flows through a real Tansu broker into a chDB store."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families
from scenario_data import POISON, disordered, scenario_envelopes
from stream_helpers import TEST_PROCESSING, TEST_SETTINGS, as_records, count, produce, run_until

from pipeline.kafka import ensure_topics
from pipeline.local.broker import TansuBroker
from pipeline.metrics import serve_metrics
from pipeline.sink.store import Store
from pipeline.streams.process_worker import ProcessWorker
from pipeline.streams.sink_worker import SinkWorker

SCENARIO = scenario_envelopes()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _sum(samples: dict, name: str) -> float:
    return sum(v for (n, _labels), v in samples.items() if n == name)


async def test_metrics_move_as_events_flow_through_process_and_sink(
    fresh_broker: TansuBroker, store: Store
) -> None:
    server = serve_metrics(_free_port(), addr="127.0.0.1")
    assert server is not None
    try:
        bootstrap = fresh_broker.bootstrap
        await ensure_topics(bootstrap, partitions=2)
        before = _scrape(server.url)
        assert _value(before, "pipeline_process_records_total") == 0

        metrics = server.metrics
        process = ProcessWorker(bootstrap, TEST_SETTINGS, TEST_PROCESSING, metrics=metrics)
        sink = SinkWorker(bootstrap, TEST_SETTINGS, store, metrics=metrics)
        metrics.watch(SimpleNamespace(process=process, sink=sink, ingest_stats=None))
        poison = [(key, value, "upbit") for key, value, _reason in POISON]
        produced = await produce(bootstrap, as_records(disordered(SCENARIO)) + poison)
        seen: list[dict] = []

        def done() -> bool:
            seen.append(_scrape(server.url))
            return count(store, "dead_letters") >= len(POISON) and (
                process.stats.messages_out > 0 and sink.stats.records >= process.stats.messages_out
            )

        await run_until([process.run, sink.run], done)
        await asyncio.sleep(1.2)  # one more lag refresh after the last write
        after = _scrape(server.url)
    finally:
        server.stop()

    assert _value(after, "pipeline_process_records_total") == produced
    assert _value(after, "pipeline_process_events_normalized_total") > 0
    assert _value(after, "pipeline_process_duplicates_dropped_total") > 0  # disordered dups
    assert _value(after, "pipeline_sink_rows_written_total") > 0
    assert _value(after, "pipeline_sink_write_errors_total") == 0
    reasons: dict[str, int] = {}
    for _key, _value_bytes, reason in POISON:
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, expected in reasons.items():
        assert (
            _value(after, "pipeline_process_dead_letters_total", venue="upbit", reason=reason)
            == expected
        ), reason
    assert _value(after, "pipeline_process_batch_records_count") >= 1
    assert _value(after, "pipeline_process_batch_records_sum") == produced
    assert _value(after, "pipeline_sink_batch_rows_sum") == _value(
        after, "pipeline_sink_rows_written_total"
    )
    assert _sum(after, "pipeline_end_to_end_latency_seconds_count") > 0
    # lag: one gauge per assigned partition of both groups, and zero once everything is in
    lag = {labels: v for (n, labels), v in after.items() if n == "pipeline_consumer_lag_records"}
    groups = {dict(labels)["group"] for labels in lag}
    assert groups == {"pipeline-processor", "pipeline-sink"}
    assert all(v == 0 for v in lag.values()), lag
    # values moved while the flow ran: some scrape saw a partial count
    counts = [_value(s, "pipeline_process_records_total") for s in seen]
    assert counts == sorted(counts)
