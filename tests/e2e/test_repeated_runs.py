"""`pipeline run` again and again on one data directory (issue 11 item 3).

The simulated venues keep their books and id sequences in the data directory, the processing
state is checkpointed, the store is kept: after every run, stopped by `--duration` or by
Ctrl-C, the tables equal the ground truth of everything the venues hold (runs 1..N), orders
left resting carry on, no id is reused, and the live view counts this run's rows. A run whose
tables do not match exits 1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

PIPELINE = [sys.executable, "-m", "pipeline.cli"]
MATCH = re.compile(r"orders (\d+)/(\d+) match, positions (\d+)/(\d+) match")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}


def _args(data: Path, *more: str) -> list[str]:
    return [*PIPELINE, "run", "--rate", "30", "--seed", "3", "--metrics-port", "0",
            "--data-dir", str(data), *more]  # fmt: skip


def _run(cwd: Path, data: Path, seconds: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _args(data, "--duration", str(seconds)), cwd=cwd, env=_env(), capture_output=True,
        text=True, timeout=240,
    )  # fmt: skip


def _matched(out: str) -> int:
    """The order count of a run whose tables matched the truth entirely."""
    match = MATCH.search(out)
    assert match, out[-3000:]
    orders_ok, orders, positions_ok, positions = map(int, match.groups())
    assert (orders_ok, positions_ok) == (orders, positions), out[-3000:]
    return orders


def _first_this_run(out: str) -> int:
    found = re.search(r"this run: (\d+) new orders", out)
    assert found, out[-3000:]
    return int(found.group(1))


def test_three_runs_on_one_data_directory_each_match_the_whole_truth(tmp_path: Path) -> None:
    data, env = tmp_path / "data", _env()
    first = _run(tmp_path, data, 12)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "simulator: new simulated venues" in first.stdout
    orders_1 = _matched(first.stdout)
    assert orders_1 > 100

    # the second run is stopped by Ctrl-C (SIGINT to the whole process group)
    second = subprocess.Popen(
        _args(data), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    time.sleep(22)
    os.killpg(second.pid, signal.SIGINT)
    out_2, err_2 = second.communicate(timeout=180)
    assert second.returncode == 0, err_2[-3000:]
    assert "kept from 1 earlier run(s)" in out_2, out_2[-3000:]
    orders_2 = _matched(out_2)
    assert orders_2 > orders_1  # the truth covers both runs, and so do the tables
    assert _first_this_run(out_2) < orders_1  # the view counts this run, not the store

    third = _run(tmp_path, data, 12)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "kept from 2 earlier run(s)" in third.stdout
    assert _matched(third.stdout) > orders_2

    # a store the truth does not explain: the run says so and exits 1
    insert = (
        "import sys; from pipeline.config import Settings; from pipeline.sink.store import "
        "open_store; from pathlib import Path; "
        "s = open_store(Settings(data_dir=Path(sys.argv[1])).store); "
        's.command(f"INSERT INTO {s.database}.orders (venue, account, order_id, symbol, '
        "venue_symbol, side, order_type, status, venue_status, qty, filled_qty, "
        "remaining_qty, canceled_qty, fee, created_at, updated_at, version, last_event_id) "
        "VALUES ('upbit', 'alice', 'not-from-any-venue', 'BTC/KRW', 'KRW-BTC', 'buy', "
        "'limit', 'open', 'wait', 1, 0, 1, 0, 0, now64(3), now64(3), 1, 'forged')\")"
    )
    subprocess.run([sys.executable, "-c", insert, str(data)], env=env, check=True, timeout=120)
    fourth = _run(tmp_path, data, 4)
    assert fourth.returncode == 1, fourth.stdout[-3000:]
    assert "not-from-any-venue" in fourth.stdout
    assert "do not match the ground truth" in fourth.stdout
