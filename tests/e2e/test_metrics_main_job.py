"""`pipeline run` serves /metrics: scraped during a run on the simulator, the ingest, process,
sink and cancel metrics move as events flow."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

PIPELINE = [sys.executable, "-m", "pipeline.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(port: int) -> dict[str, float]:
    """metric sample name -> value summed over labels; {} while the endpoint is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_run_serves_metrics_that_move_while_events_flow(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    data = tmp_path / "data"
    run = subprocess.Popen(
        [*PIPELINE, "run", "--duration", "14", "--rate", "30", "--seed", "3",
         "--data-dir", str(data), "--metrics-port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    scrapes: list[dict[str, float]] = []
    cancel = None
    try:
        deadline = time.monotonic() + 60
        while run.poll() is None and time.monotonic() < deadline:
            sample = _scrape(port)
            if sample:
                scrapes.append(sample)
            if cancel is None and sample.get("pipeline_sink_rows_written_total", 0) > 0:
                cancel = subprocess.run(
                    [*PIPELINE, "cancel", "--venue", "binance", "--yes", "--data-dir", str(data)],
                    cwd=tmp_path, env=env, capture_output=True, text=True, timeout=40,
                )  # fmt: skip
            time.sleep(1.0)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err[-3000:]
    assert f"metrics: http://127.0.0.1:{port}/metrics" in out  # loopback by default
    assert len(scrapes) >= 3, out[-2000:]
    last = scrapes[-1]
    for name in (
        "pipeline_ingest_messages_received_total",
        "pipeline_ingest_messages_published_total",
        "pipeline_ingest_connects_total",
        "pipeline_ingest_snapshots_total",
        "pipeline_process_records_total",
        "pipeline_process_events_normalized_total",
        "pipeline_process_batch_seconds_count",
        "pipeline_sink_rows_written_total",
        "pipeline_sink_write_seconds_count",
        "pipeline_end_to_end_latency_seconds_count",
    ):
        assert last.get(name, 0) > 0, name
    published = [s.get("pipeline_process_records_total", 0) for s in scrapes]
    assert published == sorted(published), published
    assert len(set(published)) > 2, published
    assert cancel is not None
    assert cancel.returncode == 0, cancel.stderr
    assert last.get("pipeline_cancel_commands_received_total", 0) >= 1
    assert last.get("pipeline_cancel_commands_total", 0) >= 1
    assert last.get("pipeline_cancel_command_seconds_count", 0) >= 1
