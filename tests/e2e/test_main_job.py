"""`pipeline run` on the embedded default: simulator -> ingestors -> processing -> tables,
and the tables equal the simulator's ground truth when it stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PIPELINE = [sys.executable, "-m", "pipeline.cli"]


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
