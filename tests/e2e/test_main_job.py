"""`pipeline run` on the embedded default: simulator -> ingestors -> processing -> tables,
and the tables equal the simulator's ground truth when it stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PIPELINE = [sys.executable, "-m", "pipeline.cli"]
VENUES = "(binance, coinone, futures_gateway, ssi, upbit)"


def positions_per_venue(tmp_path: Path, env: dict[str, str]) -> dict[str, int]:
    """Rows of `trading.positions` per venue, read from the stopped run's store."""
    result = subprocess.run(
        [*PIPELINE, "sql", "--data-dir", str(tmp_path / "data"), "--format", "csv",
         "SELECT venue, count() FROM trading.positions FINAL GROUP BY venue"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = (line.replace('"', "").split(",") for line in result.stdout.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def assert_every_position_compared(out: str, positions: int, per_venue: dict[str, int]) -> None:
    """The run compared every position in the store, the futures gateway's included: the
    summary's total is the store's row count, and every one of them matched."""
    assert VENUES in out, out[-3000:]
    assert "not compared" not in out, out[-3000:]
    assert per_venue.get("futures_gateway", 0) > 0, per_venue
    assert sum(per_venue.values()) == positions, (per_venue, positions)


def test_main_job_tables_match_the_simulator_ground_truth(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    result = subprocess.run(
        [*PIPELINE, "run", "--duration", "15", "--rate", "30", "--seed", "5",
         "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "simulator: upbit" in out
    published = [int(n) for n in re.findall(r"published (\d+)", out)]
    assert max(published, default=0) > 0, out
    match = re.search(r"orders (\d+)/(\d+) match, positions (\d+)/(\d+) match", out)
    assert match, out[-3000:]
    orders_ok, orders, positions_ok, positions = map(int, match.groups())
    assert orders > 100
    assert positions > 0
    assert (orders_ok, positions_ok) == (orders, positions), out[-3000:]
    assert out.rstrip().endswith("stopped")
    assert_every_position_compared(out, positions, positions_per_venue(tmp_path, env))


def test_main_job_with_faults_and_a_forced_disconnect_per_venue_matches_the_truth(
    tmp_path: Path,
) -> None:
    """Duplicated, reordered and malformed frames on every venue, and every venue's
    connections dropped once mid-run: the ClickHouse tables still equal the ground truth.

    The flow keeps running through the disconnects. After every reconnect the ingestors
    query the venues' order history, so orders placed *and* finished in a gap are
    recovered, and the trades of the gap: Upbit's `GET /v1/order` `trades[]` (for every
    order whose executed volume changed) and Binance's `myTrades`, so positions miss no
    fill. The futures gateway's order history leaves no order unseen, and its trade list no
    fill: its positions are compared too.
    """
    import time
    import urllib.request

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    process = subprocess.Popen(
        [*PIPELINE, "run", "--duration", "25", "--rate", "30", "--seed", "9",
         "--faults", "duplicate=0.05,reorder=0.05,malformed=0.01",
         "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    control = None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("simulator control: "):
            control = line.split(": ", 1)[1].strip()
            break
    assert control, "".join(lines)

    def post(path: str) -> None:
        request = urllib.request.Request(f"{control}{path}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    time.sleep(8)  # let the flow run, then drop every venue's connections once
    for venue in ("upbit", "binance", "coinone", "ssi"):
        post(f"/control/disconnect?venue={venue}")
    rest, _ = process.communicate(timeout=240)
    out = "".join(lines) + rest
    assert process.returncode == 0, out[-3000:]
    match = re.search(r"orders (\d+)/(\d+) match, positions (\d+)/(\d+) match", out)
    assert match, out[-3000:]
    orders_ok, orders, positions_ok, positions = map(int, match.groups())
    assert orders > 100
    assert (orders_ok, positions_ok) == (orders, positions), out[-3000:]
    # every venue's orders and positions are in the comparison, the gateway's included (its
    # order history leaves no order unseen, its trade list no fill)
    assert_every_position_compared(out, positions, positions_per_venue(tmp_path, env))
    reconnects = [int(n) for n in re.findall(r"reconnects (\d+)", out)]
    assert max(reconnects, default=0) >= 1, "the forced disconnects were not noticed"
