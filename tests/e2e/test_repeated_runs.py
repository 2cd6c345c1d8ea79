"""`pipeline run` again and again on one data directory (issue 11 item 3).

The simulated venues keep their books and id sequences in the data directory, the processing
state is checkpointed, the raw records no checkpoint covers are spooled, the store is kept:
after every run, stopped by `--duration`, by Ctrl-C or by SIGKILL of the whole process group
(checked after the next run), the tables equal the ground truth of everything the venues
hold (runs 1..N), orders left resting carry on, no id is reused, and the live view counts
this run's rows. A run whose tables do not match exits 1.
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


def _start(cwd: Path, data: Path) -> subprocess.Popen[str]:
    """A run without a duration, in a process group of its own (to signal it as a whole)."""
    return subprocess.Popen(
        _args(data), cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
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


def test_runs_stopped_every_way_on_one_data_directory_match_the_whole_truth(
    tmp_path: Path,
) -> None:
    data, env = tmp_path / "data", _env()
    first = _run(tmp_path, data, 12)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "simulator: new simulated venues" in first.stdout
    orders_1 = _matched(first.stdout)
    assert orders_1 > 100

    # the second run is stopped by Ctrl-C (SIGINT to the whole process group)
    second = _start(tmp_path, data)
    time.sleep(22)
    os.killpg(second.pid, signal.SIGINT)
    out_2, err_2 = second.communicate(timeout=180)
    assert second.returncode == 0, err_2[-3000:]
    assert "kept from 1 earlier run(s)" in out_2, out_2[-3000:]
    orders_2 = _matched(out_2)
    assert orders_2 > orders_1  # the truth covers both runs, and so do the tables
    assert _first_this_run(out_2) < orders_1  # the view counts this run, not the store

    # the third run is killed: SIGKILL of the whole process group, nothing runs down
    killed = _start(tmp_path, data)
    time.sleep(22)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=60)

    fourth = _run(tmp_path, data, 12)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert "kept from 3 earlier run(s)" in fourth.stdout
    # what the killed run's broker held and no checkpoint covered came back from the spool
    assert "raw spool: published again" in fourth.stdout, fourth.stdout[-3000:]
    assert _matched(fourth.stdout) > orders_2

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
    fifth = _run(tmp_path, data, 4)
    assert fifth.returncode == 1, fifth.stdout[-3000:]
    assert "not-from-any-venue" in fifth.stdout
    assert "do not match the ground truth" in fifth.stdout
