"""PipelineMetrics: conventions, the stats collector, cancel results, the port setting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from pipeline.errors import ConfigError
from pipeline.ingest.stats import IngestStats
from pipeline.metrics import PipelineMetrics, metrics_port
from pipeline.streams.process_worker import ProcessStats
from pipeline.streams.sink_worker import SinkStats


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_names_follow_the_prometheus_conventions() -> None:
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    for family in registry.collect():
        if family.name.startswith(("process_", "python_")):
            continue  # the standard process and platform collectors
        assert family.name.startswith("pipeline_"), family.name
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_records", "_rows")), family.name
        assert "id" not in {label for s in family.samples for label in s.labels}


def test_two_registries_in_one_process_do_not_share_values() -> None:
    first, second = PipelineMetrics(CollectorRegistry()), PipelineMetrics(CollectorRegistry())
    first.cancel.received.inc()
    assert _samples(first.registry)[("pipeline_cancel_commands_received_total", ())] == 1
    assert _samples(second.registry)[("pipeline_cancel_commands_received_total", ())] == 0


def test_the_collector_reads_the_roles_stats_at_scrape_time() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    ingest = IngestStats()
    process = SimpleNamespace(stats=ProcessStats(), group_id="pipeline-processor")
    sink = SimpleNamespace(stats=SinkStats(), group_id="pipeline-sink")
    metrics.watch(SimpleNamespace(ingest_stats=ingest, process=process, sink=sink))
    ingest.venue("upbit").published = 7
    ingest.venue("upbit").reconnects = 2
    process.stats.late = 3
    process.stats.reorder_depth = 11
    process.stats.lag = {("raw.upbit", 0): 5}
    sink.stats.retries = 1

    samples = _samples(metrics.registry)

    assert samples[("pipeline_ingest_messages_published_total", (("venue", "upbit"),))] == 7
    assert samples[("pipeline_ingest_reconnects_total", (("venue", "upbit"),))] == 2
    assert samples[("pipeline_process_late_events_total", ())] == 3
    assert samples[("pipeline_process_reorder_buffer_events", ())] == 11
    assert samples[("pipeline_sink_write_retries_total", ())] == 1
    key = (("group", "pipeline-processor"), ("partition", "0"), ("topic", "raw.upbit"))
    assert samples[("pipeline_consumer_lag_records", key)] == 5
    assert b"pipeline_ingest_messages_published_total" in generate_latest(metrics.registry)


def test_cancel_results_count_final_ones_with_bounded_labels() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    base = {"started_at": 1_000, "finished_at": 1_250, "outcomes": [{"outcome": "canceled"}]}
    metrics.cancel.observe_result(
        {**base, "venue": "binance", "status": "in_progress", "final": False}
    )
    metrics.cancel.observe_result(
        {**base, "venue": "binance", "status": "completed", "final": True}
    )
    metrics.cancel.observe_result({**base, "venue": "x" * 50, "status": "rejected", "final": True})

    samples = _samples(metrics.registry)

    assert (
        samples[("pipeline_cancel_commands_total", (("status", "completed"), ("venue", "binance")))]
        == 1
    )
    assert (
        samples[("pipeline_cancel_commands_total", (("status", "rejected"), ("venue", "other")))]
        == 1
    )
    assert (
        samples[("pipeline_cancel_orders_total", (("outcome", "canceled"), ("venue", "binance")))]
        == 1
    )
    assert samples[("pipeline_cancel_command_seconds_sum", (("venue", "binance"),))] == 0.25


def test_metrics_port_setting() -> None:
    assert metrics_port({}) == 9400
    assert metrics_port({"PIPELINE_METRICS_PORT": "0"}) == 0
    assert metrics_port({"PIPELINE_METRICS_PORT": "9411"}) == 9411
    for bad in ("http", "-1", "70000"):
        with pytest.raises(ConfigError, match="PIPELINE_METRICS_PORT"):
            metrics_port({"PIPELINE_METRICS_PORT": bad})


async def test_rest_pollers_count_requests_and_rate_limit_waits_for_the_metrics() -> None:
    import asyncio

    from pipeline.ingest.base import RestPoller
    from pipeline.ingest.config import AccountConfig, Credentials

    class Poller(RestPoller):
        venue = "coinone"

        async def poll(self, http):  # pragma: no cover - not called
            await asyncio.sleep(0)

        def symbol_of(self, payload):  # pragma: no cover - not called
            return None

    stats = IngestStats()
    config = AccountConfig(
        "coinone", "alice", "http://127.0.0.1:1",
        credentials=Credentials("key", "secret"), rate_limit=50, rate_burst=1,
    )  # fmt: skip
    poller = Poller(config, SimpleNamespace(), stats)
    for _ in range(3):  # the second and third request wait ~20 ms each for a token
        await poller.throttle()

    coinone = stats.venue("coinone")
    assert coinone.rest_requests == 3
    assert coinone.rate_limit_waits == 2
    assert coinone.rate_limit_wait_seconds > 0.02
    metrics = PipelineMetrics(CollectorRegistry())
    metrics.watch(SimpleNamespace(ingest_stats=stats, process=None, sink=None))
    samples = _samples(metrics.registry)
    assert samples[("pipeline_ingest_rest_requests_total", (("venue", "coinone"),))] == 3
    assert samples[("pipeline_ingest_rate_limit_waits_total", (("venue", "coinone"),))] == 2
    waited = samples[("pipeline_ingest_rate_limit_wait_seconds_total", (("venue", "coinone"),))]
    assert waited == coinone.rate_limit_wait_seconds


def test_process_and_platform_collectors_are_registered() -> None:
    samples = _samples(PipelineMetrics(CollectorRegistry()).registry)
    names = {name for name, _labels in samples}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total",
            "process_open_fds", "python_info"} <= names  # fmt: skip
    assert any(name.startswith("python_gc_") for name in names)


def test_labelled_series_exist_at_zero_before_the_first_observation() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    metrics.watch(SimpleNamespace(ingest_stats=IngestStats(), process=None, sink=None))
    samples = _samples(metrics.registry)
    for venue in ("upbit", "binance", "coinone", "ssi", "futures_gateway"):
        key = ("pipeline_process_dead_letters_total", (("reason", "bad_payload"), ("venue", venue)))
        assert samples[key] == 0
        assert samples[("pipeline_ingest_dead_letters_total", (("venue", venue),))] == 0
        assert samples[("pipeline_ingest_reconnects_total", (("venue", venue),))] == 0
        failed = (("status", "failed"), ("venue", venue))
        assert samples[("pipeline_cancel_commands_total", failed)] == 0
        latency = ("pipeline_end_to_end_latency_seconds_count", (("venue", venue),))
        assert samples[latency] == 0


def test_metrics_bind_to_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.metrics import ENV_METRICS_ADDR, serve_metrics

    monkeypatch.delenv(ENV_METRICS_ADDR, raising=False)
    server = serve_metrics(0) or serve_metrics(_free_port())
    assert server is not None
    try:
        assert server.addr == "127.0.0.1"
        assert server._server.server_address[0] == "127.0.0.1"
    finally:
        server.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
