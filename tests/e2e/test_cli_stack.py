"""`pipeline` as a user runs it: the embedded stack starts, answers, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

PIPELINE = [sys.executable, "-m", "pipeline.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(extra)
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as dead: it is only waiting for its parent to reap it
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_for_state(data_dir: Path, process: subprocess.Popen, timeout: float = 60) -> dict:
    path = data_dir / "stack.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"pipeline exited early: {process.communicate()}")
        if path.exists():
            state = orjson.loads(path.read_bytes())
            if state.get("query_url"):
                return state
        time.sleep(0.1)
    raise AssertionError("stack.json never appeared")


def _wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _start_run(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*PIPELINE, "run", "--data-dir", str(tmp_path / "data"), *args],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_run_with_duration_reports_stack_serves_sql_and_stops_cleanly(tmp_path: Path) -> None:
    process = _start_run(tmp_path, "--duration", "8")
    state = _wait_for_state(tmp_path / "data", process)
    assert _alive(state["broker_pid"])

    query = subprocess.run(
        [
            *PIPELINE,
            "sql",
            "--data-dir",
            str(tmp_path / "data"),
            "SELECT name FROM system.tables WHERE database = 'trading' ORDER BY name",
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert query.returncode == 0, query.stderr
    assert "orders" in query.stdout
    assert "positions" in query.stdout

    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"broker: {state['broker']} (embedded Tansu)" in out
    assert "store: chdb://" in out
    assert out.rstrip().endswith("stopped")
    assert not (tmp_path / "data" / "stack.json").exists()
    assert _wait_dead(state["broker_pid"]), "the embedded broker outlived pipeline run"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_run_stopped_by_signal_leaves_no_broker_behind(tmp_path: Path, how: int) -> None:
    process = _start_run(tmp_path)
    state = _wait_for_state(tmp_path / "data", process)
    broker_pid = state["broker_pid"]
    process.send_signal(how)
    process.communicate(timeout=60)
    if how != signal.SIGKILL:
        assert process.returncode == 0
    assert _wait_dead(broker_pid), f"broker {broker_pid} survived {signal.Signals(how).name}"


def test_bad_clickhouse_url_fails_fast_with_one_masked_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*PIPELINE, "migrate"],
        cwd=tmp_path,
        env=_env(PIPELINE_CLICKHOUSE_URL="ftp://ops:hunter2@db.internal/trading"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "PIPELINE_CLICKHOUSE_URL=ftp://ops:***@db.internal/trading" in lines[0]
    assert "unknown scheme" in lines[0]
    assert "hunter2" not in result.stderr + result.stdout


def test_unreachable_broker_fails_with_exit_code_2_naming_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [*PIPELINE, "run", "--duration", "1", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path,
        env=_env(PIPELINE_KAFKA_BOOTSTRAP="127.0.0.1:1", PIPELINE_CONNECT_TIMEOUT="2"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PIPELINE_KAFKA_BOOTSTRAP=127.0.0.1:1" in result.stderr
    assert "no Kafka broker answered" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["migrate"],
        ["topics"],
        ["sql"],
        ["broker"],
        ["normalize"],
        ["fold"],
        ["worker"],
        ["replay"],
        ["sim"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [*PIPELINE, *command, "--help"], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "usage: pipeline" in result.stdout


async def test_run_turns_raw_records_into_rows_that_sql_shows(tmp_path: Path) -> None:
    from scenario_data import POISON, scenario_envelopes
    from stream_helpers import as_records, produce

    # no simulator: records of our own would not be in its ground truth (the run exits 1)
    process = _start_run(tmp_path, "--no-sim")
    state = _wait_for_state(tmp_path / "data", process)
    try:
        upbit = [item for item in scenario_envelopes() if item[1].venue == "upbit"]
        poison = (POISON[0][0], POISON[0][1], "upbit")
        await produce(state["broker"], [*as_records(upbit), poison])
        sql = "SELECT count() FROM trading.orders FINAL WHERE venue = 'upbit'"
        deadline = time.monotonic() + 60
        shown = ""
        while time.monotonic() < deadline:
            result = subprocess.run(
                [*PIPELINE, "sql", "--data-dir", str(tmp_path / "data"), "--format", "csv", sql],
                cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            shown = result.stdout
            if result.returncode == 0 and shown.splitlines()[-1] != "0":
                break
            time.sleep(1)
        assert int(shown.splitlines()[-1]) >= 5, shown
        letters = subprocess.run(
            [*PIPELINE, "sql", "--data-dir", str(tmp_path / "data"), "--format", "jsonl",
             "SELECT reason FROM trading.dead_letters"],
            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert '"reason":"bad_envelope"' in letters.stdout
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "dead letters 1" in out


def test_replay_command_builds_tables_from_a_file(tmp_path: Path) -> None:
    from scenario_data import scenario_envelopes

    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"".join(env.encode() + b"\n" for _key, env in scenario_envelopes()))
    args = ["--data-dir", str(tmp_path / "data")]
    replay = subprocess.run(
        [*PIPELINE, "replay", "--input", str(path), *args],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    assert "replayed" in replay.stdout
    assert "0 dead letters" in replay.stdout
    rows = subprocess.run(
        [*PIPELINE, "sql", *args, "--format", "csv",
         "SELECT count() FROM trading.orders FINAL"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert int(rows.stdout.splitlines()[-1]) > 20
    missing = subprocess.run(
        [*PIPELINE, "replay", "--input", str(tmp_path / "nope.jsonl"), *args],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "--input=" in missing.stderr
