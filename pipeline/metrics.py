"""Prometheus metrics of one pipeline process, against an injected registry.

Every process (`pipeline run`, each `pipeline worker`) serves its own `/metrics` on its own
port (PITFALLS §15: no multiprocess mode). Two kinds of metrics:

- counters the roles already keep in their stats dataclasses (`IngestStats`, `ProcessStats`,
  `SinkStats`) are exported by `RoleStatsCollector`, which reads them at scrape time, so the
  ingest and processing hot paths pay nothing;
- histograms and labelled counters that need every observation (batch sizes and latencies,
  dead letters by reason, end-to-end latency, cancel command outcomes) are observed by the
  workers through `PipelineMetrics` / `CancelMetrics`.

Names follow the Prometheus conventions: `pipeline_` prefix, `_total` counters, `_seconds`
histograms in base units, labels of low cardinality only (venue, topic, partition, group,
reason, outcome, status; never order or command ids). Label values that come from outside
(a venue named in a command) are folded into `other` unless known.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from pipeline.errors import ConfigError
from pipeline.venues.registry import VENUES

log = logging.getLogger(__name__)

ENV_METRICS_PORT = "PIPELINE_METRICS_PORT"
ENV_METRICS_ADDR = "PIPELINE_METRICS_ADDR"
DEFAULT_METRICS_PORT = 9400

BATCH_BUCKETS = (1, 5, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
END_TO_END_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

# VenueStats field -> (metric name, help)
INGEST_COUNTERS: dict[str, tuple[str, str]] = {
    "received": ("pipeline_ingest_messages_received", "Venue messages read off the wire."),
    "published": ("pipeline_ingest_messages_published", "Raw envelopes acknowledged by Kafka."),
    "unkeyed": (
        "pipeline_ingest_messages_unkeyed",
        "Venue messages without a symbol, not published.",
    ),
    "dead_letters": (
        "pipeline_ingest_dead_letters",
        "Unparseable venue messages sent to pipeline.dlq.",
    ),
    "connects": ("pipeline_ingest_connects", "Venue sessions established."),
    "reconnects": (
        "pipeline_ingest_reconnects",
        "Venue sessions lost or failed, then reconnected.",
    ),
    "snapshots": (
        "pipeline_ingest_snapshots",
        "Open-order snapshots fetched (after every (re)connect, every REST poll).",
    ),
    "recovered_orders": (
        "pipeline_ingest_gap_recovered_orders",
        "Orders queried because they left the open set during a gap.",
    ),
    "produce_retries": (
        "pipeline_ingest_produce_retries",
        "Raw messages whose produce failed and was retried.",
    ),
    "errors": ("pipeline_ingest_errors", "Venue error replies and failed requests."),
    "rest_requests": (
        "pipeline_ingest_rest_requests",
        "REST requests made by pollers (each passes the account's rate limiter).",
    ),
    "rate_limit_waits": (
        "pipeline_ingest_rate_limit_waits",
        "REST requests that had to wait for the account's rate limiter.",
    ),
    "rate_limit_wait_seconds": (
        "pipeline_ingest_rate_limit_wait_seconds",
        "Seconds REST requests spent waiting for the account's rate limiter.",
    ),
}
# ProcessStats field -> (metric name, help)
PROCESS_COUNTERS: dict[str, tuple[str, str]] = {
    "records": ("pipeline_process_records", "Raw records consumed and processed."),
    "normalized": (
        "pipeline_process_events_normalized",
        "Canonical events normalized from raw records.",
    ),
    "duplicates": (
        "pipeline_process_duplicates_dropped",
        "Canonical events dropped as duplicates.",
    ),
    "late": (
        "pipeline_process_late_events",
        "Events behind the watermark (beyond the lateness window), applied and emitted late.",
    ),
    "messages_out": (
        "pipeline_process_messages_produced",
        "Messages produced to the output topics.",
    ),
    "batches": ("pipeline_process_batches_committed", "Batches whose offsets were committed."),
    "recovered_records": (
        "pipeline_process_recovery_records",
        "Raw records replayed to rebuild partition state.",
    ),
}
# SinkStats field -> (metric name, help)
SINK_COUNTERS: dict[str, tuple[str, str]] = {
    "records": ("pipeline_sink_records", "Output-topic records consumed."),
    "rows_written": ("pipeline_sink_rows_written", "Rows accepted by ClickHouse."),
    "batches": ("pipeline_sink_batches_written", "Batches written to ClickHouse."),
    "errors": ("pipeline_sink_write_errors", "Failed ClickHouse writes."),
    "retries": ("pipeline_sink_write_retries", "ClickHouse writes retried after a failure."),
    "undecodable": (
        "pipeline_sink_undecodable_records",
        "Output-topic records that were not JSON, skipped.",
    ),
}


#: Dead-letter reasons of the processor (pipeline.errors and streams/processor.py): their
#: series exist from the start, at 0, so `increase()` and alerts see the first one.
DEAD_LETTER_REASONS = (
    "bad_envelope", "bad_payload", "unknown_venue", "bad_input", "schema_violation",
    "normalizer_error", "illegal_event", "fold_error",
)  # fmt: skip
COMMAND_STATUSES = ("completed", "partially_completed", "failed", "timed_out", "rejected")
ORDER_OUTCOMES = (
    "canceled", "partially_canceled", "replaced", "already_terminal", "not_found", "failed",
)  # fmt: skip


def known_venue(value: Any) -> str:
    """A venue label: the venue if it is one of ours, else `other` (bounded cardinality)."""
    return value if isinstance(value, str) and value in VENUES else "other"


class RoleStatsCollector(Collector):
    """Exports the roles' stats dataclasses at scrape time.

    `source` is anything with optional `ingest_stats`, `process`, `sink` attributes (the
    `Roles` of a run); every family is always yielded, empty when its role does not run here,
    so the registry knows every name from the start.
    """

    def __init__(self) -> None:
        self.source: Any = None

    def collect(self) -> Iterator[Metric]:
        source = self.source
        ingest = getattr(source, "ingest_stats", None)
        process = getattr(getattr(source, "process", None), "stats", None)
        sink = getattr(getattr(source, "sink", None), "stats", None)
        yield from self._ingest(ingest)
        yield from _counters(PROCESS_COUNTERS, process)
        yield _corrections(process)
        missing = GaugeMetricFamily(
            "pipeline_process_final_orders_missing_fills",
            "Final orders (settled a minute of event time) whose filled quantity is more than "
            "their fills account for: executions lost on the way (ground-truth drift). As of "
            "the last eviction pass of each assigned partition.",
            labels=["venue"],
        )
        if process is not None:
            by_venue: dict[str, int] = dict.fromkeys(VENUES, 0)
            for venue, count in dict(process.missing_fills).items():
                by_venue[known_venue(venue)] = by_venue.get(known_venue(venue), 0) + count
            for venue, count in sorted(by_venue.items()):
                missing.add_metric([venue], count)
        yield missing
        yield from _counters(SINK_COUNTERS, sink)
        depth = GaugeMetricFamily(
            "pipeline_process_reorder_buffer_events",
            "Canonical events held in the event-time reorder buffers.",
        )
        assigned = GaugeMetricFamily(
            "pipeline_process_assigned_partitions", "Raw partitions assigned to this process."
        )
        if process is not None:
            depth.add_metric([], process.reorder_depth)
            assigned.add_metric([], len(process.assigned))
        yield depth
        yield assigned
        lag = GaugeMetricFamily(
            "pipeline_consumer_lag_records",
            "Fetch high watermark minus the consumer position, per partition.",
            labels=["group", "topic", "partition"],
        )
        for worker in (getattr(source, "process", None), getattr(source, "sink", None)):
            if worker is None:
                continue
            stats = getattr(worker, "stats", None)
            for (topic, partition), value in dict(getattr(stats, "lag", {})).items():
                lag.add_metric([worker.group_id, topic, str(partition)], value)
        yield lag

    def _ingest(self, ingest: Any) -> Iterator[Metric]:
        venues: Mapping[str, Any] = dict(getattr(ingest, "venues", {}) or {})
        for field_name, (name, text) in INGEST_COUNTERS.items():
            family = CounterMetricFamily(name, text, labels=["venue"])
            if ingest is not None:  # every venue from the start, at 0 until it counts
                for venue in sorted(set(VENUES) | set(venues)):
                    stats = venues.get(venue)
                    family.add_metric([venue], getattr(stats, field_name) if stats else 0)
            yield family
        queue = GaugeMetricFamily(
            "pipeline_ingest_queue_messages", "Raw messages waiting to be produced to Kafka."
        )
        if ingest is not None:
            queue.add_metric([], ingest.queue_depth)
        yield queue


#: Where a report that changed an order already final came from (TradingBook).
CORRECTION_SOURCES = ("snapshot", "stream")


def _corrections(process: Any) -> Metric:
    """`pipeline_process_final_state_corrections_total{venue, source}`: every venue and
    source from the start (at 0) when the process role runs here."""
    family = CounterMetricFamily(
        "pipeline_process_final_state_corrections",
        "Reports that changed the filled quantity or status of an order already final "
        "(terminal). source=snapshot: a REST poll, reconnect snapshot or reply disagreed with "
        "what the streams had made final (reconciliation drift); source=stream: a live "
        "report did (a trade reported after the cancel).",
        labels=["venue", "source"],
    )
    if process is not None:
        counts: dict[tuple[str, str], int] = {}
        for (venue, source), count in dict(process.corrections).items():
            key = (known_venue(venue), source)
            counts[key] = counts.get(key, 0) + count
        for venue in sorted(set(VENUES) | {v for v, _ in counts}):
            for source in CORRECTION_SOURCES:
                family.add_metric([venue, source], counts.get((venue, source), 0))
    return family


def _counters(spec: Mapping[str, tuple[str, str]], stats: Any) -> Iterator[Metric]:
    for field_name, (name, text) in spec.items():
        family = CounterMetricFamily(name, text)
        if stats is not None:
            family.add_metric([], getattr(stats, field_name))
        yield family


class PipelineMetrics:
    """The metrics of one process; every object is registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.roles = RoleStatsCollector()
        registry.register(self.roles)
        # process_* (CPU, memory, open files, start time) and python_info / python_gc_*
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        registry.register(GC_COLLECTOR)
        self.process_batch_records = Histogram(
            "pipeline_process_batch_records",
            "Raw records per processed batch.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.process_batch_seconds = Histogram(
            "pipeline_process_batch_seconds",
            "Time to process a batch, deliver its outputs and commit its offsets.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "pipeline_process_dead_letters",
            "Raw records that became dead letters, by reason.",
            ["venue", "reason"],
            registry=registry,
        )
        self.sink_batch_rows = Histogram(
            "pipeline_sink_batch_rows",
            "Rows per ClickHouse write (all tables of one poll).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.sink_write_seconds = Histogram(
            "pipeline_sink_write_seconds",
            "Duration of a successful ClickHouse write.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "pipeline_end_to_end_latency_seconds",
            "From the venue's event time to the canonical event's write to ClickHouse.",
            ["venue"],
            buckets=END_TO_END_BUCKETS,
            registry=registry,
        )
        self.cancel = CancelMetrics(registry)
        for venue in VENUES:  # every labelled series exists from the start
            self.end_to_end_seconds.labels(venue)
            for reason in DEAD_LETTER_REASONS:
                self.dead_letters.labels(venue, reason)

    def watch(self, roles: Any) -> None:
        """Export the stats of `roles` (a `Roles`: ingest_stats, process, sink)."""
        self.roles.source = roles

    def observe_process_batch(self, records: int, seconds: float, letters: list[Any]) -> None:
        self.process_batch_records.observe(records)
        self.process_batch_seconds.observe(seconds)
        for letter in letters:
            self.dead_letters.labels(known_venue(letter.venue), letter.reason).inc()

    def observe_sink_write(self, rows: int, seconds: float, events: list[dict]) -> None:
        """A write the store accepted; `events` are the canonical events it contained."""
        self.sink_batch_rows.observe(rows)
        self.sink_write_seconds.observe(seconds)
        now_ms = time.time() * 1000
        children: dict[Any, Any] = {}  # by the event's venue value, whatever it holds
        for event in events:
            venue = event.get("venue")
            event_time = event.get("event_time")
            if not isinstance(event_time, int):
                continue
            child = children.get(venue)
            if child is None:
                child = children[venue] = self.end_to_end_seconds.labels(known_venue(venue))
            child.observe(max(0.0, (now_ms - event_time) / 1000))


class CancelMetrics:
    """Cancel commands by status, per-order outcomes, and command latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "pipeline_cancel_commands_received",
            "Cancel commands consumed from commands.cancel.",
            registry=registry,
        )
        self.results = Counter(
            "pipeline_cancel_commands",
            "Final cancel command results, by venue and status "
            "(completed, partially_completed, failed, timed_out, rejected).",
            ["venue", "status"],
            registry=registry,
        )
        self.orders = Counter(
            "pipeline_cancel_orders",
            "Per-order outcomes of final cancel results.",
            ["venue", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "pipeline_cancel_command_seconds",
            "From a command's start to its final result.",
            ["venue"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        for venue in VENUES:
            self.seconds.labels(venue)
            for status in COMMAND_STATUSES:
                self.results.labels(venue, status)
            for outcome in ORDER_OUTCOMES:
                self.orders.labels(venue, outcome)

    def observe_result(self, result: Mapping[str, Any]) -> None:
        """A result published on commands.results; only final ones are counted."""
        if not result.get("final"):
            return
        venue = known_venue(result.get("venue"))
        self.results.labels(venue, str(result.get("status"))).inc()
        for outcome in result.get("outcomes") or ():
            self.orders.labels(venue, str(outcome.get("outcome"))).inc()
        started, finished = result.get("started_at"), result.get("finished_at")
        if isinstance(started, int) and isinstance(finished, int) and finished >= started:
            self.seconds.labels(venue).observe((finished - started) / 1000)


def metrics_port(env: Mapping[str, str] | None = None, default: int = DEFAULT_METRICS_PORT) -> int:
    """PIPELINE_METRICS_PORT (0 = no metrics endpoint); `ConfigError` if unusable."""
    env = os.environ if env is None else env
    raw = env.get(ENV_METRICS_PORT)
    if raw is None or raw.strip() == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(ENV_METRICS_PORT, raw, "must be a port number (0 = off)") from None
    if not 0 <= port <= 65535:
        raise ConfigError(ENV_METRICS_PORT, raw, "must be between 0 and 65535 (0 = off)")
    return port


@dataclass
class MetricsServer:
    """The `/metrics` endpoint of one process (a daemon thread)."""

    metrics: PipelineMetrics
    port: int
    addr: str
    _server: Any = None

    @property
    def url(self) -> str:
        host = "localhost" if self.addr in ("", "0.0.0.0", "::") else self.addr
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def serve_metrics(port: int, addr: str | None = None) -> MetricsServer | None:
    """A fresh registry with the pipeline's metrics, served on `port` (0: None, no metrics).

    The address is `addr`, else PIPELINE_METRICS_ADDR, else 127.0.0.1: loopback unless the
    operator opens it (infra/ sets 0.0.0.0 for Prometheus to scrape the containers).

    A port already in use is logged and the process runs on without an endpoint: a second
    process on one host needs its own PIPELINE_METRICS_PORT, and must not fail for lack of it.
    """
    if port == 0:
        return None
    addr = addr if addr is not None else os.environ.get(ENV_METRICS_ADDR, "127.0.0.1")
    metrics = PipelineMetrics(CollectorRegistry())
    try:
        server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)
    except OSError as exc:
        log.warning(
            "metrics not served: %s:%d unavailable (%s); set %s to a free port per process",
            addr,
            port,
            exc,
            ENV_METRICS_PORT,
        )
        return None
    return MetricsServer(metrics, server.server_port, addr, server)
