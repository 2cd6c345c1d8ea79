"""`pipeline cancel` against a running `pipeline run`, with no configuration: the command is
signed with the run's local key, executed on the simulated venue, confirmed by the canonical
state that the ingestors and processors build, and the tables still match the ground truth."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

PIPELINE = [sys.executable, "-m", "pipeline.cli"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}


def _cli(tmp_path: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PIPELINE, *args, "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _control_url(log: Path) -> str:
    match = re.search(r"simulator control: (\S+)", log.read_text())
    assert match, log.read_text()[-2000:]
    return match.group(1)


def _post(url: str) -> None:
    import urllib.request

    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _open_order(tmp_path: Path, venue: str) -> dict:
    sql = (
        "SELECT account, symbol, order_id, remaining_qty FROM trading.open_orders "
        f"WHERE venue = '{venue}' AND status = 'open' AND account != 'house' "
        "ORDER BY created_at LIMIT 1"
    )
    deadline = time.monotonic() + 60
    result = None
    while time.monotonic() < deadline:
        result = _cli(tmp_path, "sql", "--format", "jsonl", sql)
        if result.returncode == 0 and result.stdout.strip():
            return orjson.loads(result.stdout.splitlines()[0])
        time.sleep(1)
    raise AssertionError(f"no open {venue} order appeared: {result}")


def test_cancel_commands_against_the_running_main_job(tmp_path: Path) -> None:
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        [*PIPELINE, "run", "--rate", "20", "--seed", "3", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=_env(), stdout=log, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "data" / "stack.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        _open_order(tmp_path, "binance")  # the flow is running and the state has orders
        control = _control_url(tmp_path / "run.log")
        _post(f"{control}/control/flow?action=pause")  # no fill or cancel races the test
        time.sleep(3)  # let the pipeline catch up with the last frames
        order = _open_order(tmp_path, "binance")
        whole = _cli(
            tmp_path, "cancel", "--venue", "binance", "--account", order["account"],
            "--symbol", order["symbol"], "--order-id", order["order_id"],
        )  # fmt: skip
        assert whole.returncode == 0, whole.stdout + whole.stderr
        assert f"{order['order_id']}: canceled" in whole.stdout

        upbit = _open_order(tmp_path, "upbit")
        partial = _cli(
            tmp_path, "cancel", "--venue", "upbit", "--account", upbit["account"],
            "--symbol", upbit["symbol"], "--order-id", upbit["order_id"], "--qty", "0.0000001",
        )  # fmt: skip
        assert f"{upbit['order_id']}: canceled" in partial.stdout, partial.stdout
        assert "whole" in partial.stdout  # the result says the remainder went, not the qty

        again = _cli(
            tmp_path, "cancel", "--venue", "binance", "--account", order["account"],
            "--symbol", order["symbol"], "--order-id", order["order_id"],
        )  # fmt: skip
        assert "already_terminal" in again.stdout, again.stdout

        invalid = _cli(tmp_path, "cancel", "--venue", "binance", "--order-id", "1")
        assert invalid.returncode == 2
        assert "symbol" in invalid.stderr

        rows = _cli(
            tmp_path, "sql", "--format", "csv",
            "SELECT count() FROM trading.command_results FINAL WHERE final = 1",
        )  # fmt: skip
        assert int(rows.stdout.splitlines()[-1]) >= 3
        _post(f"{control}/control/flow?action=resume")
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(timeout=180)
        log.close()
    out = (tmp_path / "run.log").read_text()
    assert run.returncode == 0, out[-3000:]
    match = re.search(r"orders (\d+)/(\d+) match, positions (\d+)/(\d+) match", out)
    assert match, out[-3000:]
    orders_ok, orders, positions_ok, positions = map(int, match.groups())
    assert (orders_ok, positions_ok) == (orders, positions), out[-3000:]
