"""`pipeline bench` on a small flow: a real run that writes the figures and checks the tables.

Small (a few thousand events) so it stays quick; its figures mean nothing, its shape and its
correctness check do: this keeps the command from rotting between benchmark sessions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.e2e

CHECK_TAMPERED = """
import sys, orjson
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from pipeline.bench.flow import generate
from pipeline.bench.run import check_tables
flow = generate(3000, seed=4)
key = next(iter(flow.expected.orders))
right = flow.expected.orders[key]
flow.expected.orders[key] = replace(right, filled_qty=right.filled_qty + Decimal("0.5"))
print(orjson.dumps(check_tables(Path(sys.argv[1]), flow)).decode())
flow.expected.orders[key] = right
print(orjson.dumps(check_tables(Path(sys.argv[1]), flow)).decode())
"""


def test_bench_small_run_writes_figures_and_tables_match(tmp_path: Path) -> None:
    output = tmp_path / "bench-results.json"
    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bench", "--events", "3000", "--seed", "4",
         "--peers", "limit,handfold", "--peer-timeout", "60", "--timeout", "180",
         "--output", str(output), "--work-dir", str(work)],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = orjson.loads(output.read_bytes())
    for key in ("pipeline_events_per_s", "naive_events_per_s", "limit_events_per_s",
                "latency_p99_ms", "process_events_per_s", "process_vs_limit"):  # fmt: skip
        assert key in results
    assert results["correct"] is True
    assert results["check"]["summary"].startswith("orders ")
    assert results["limit_events_per_s"] > 0
    assert results["pipeline_events_per_s"] > 0
    pipeline = results["runs"]["pipeline"]
    assert pipeline["cpu_us_per_event"] > 0
    assert results["runs"]["process"]["stats"]["records"] == results["events"]
    assert "correctness: OK" in done.stdout

    # The check fails on a wrong answer: the same tables against a flow whose expected
    # result differs in one order (in a process of its own: chDB allows one store path per
    # process, and this one may have opened the session's already).
    check = subprocess.run(
        [sys.executable, "-c", CHECK_TAMPERED, str(work / "store")],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    wrong, right = (orjson.loads(line) for line in check.stdout.splitlines()[-2:])
    assert wrong["ok"] is False
    assert len(wrong["mismatched_orders"]) == 1
    assert right["ok"] is True

    # --compare prints the change of each figure
    again = subprocess.run(
        [sys.executable, "-c",
         "import sys, orjson; from pipeline.bench import report; "
         "p = orjson.loads(open(sys.argv[1], 'rb').read()); "
         "c = dict(p, pipeline_events_per_s=p['pipeline_events_per_s'] * 2); "
         "report.compare(p, c, sys.stdout)", str(output)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "+100.0%" in again.stdout
