"""The operator's commands on an embedded stack, as a user runs them (issue 16 items 3-6,
issue 15): `pipeline broker` with a sink worker beside it (the worker owns the store and
serves its ClickHouse endpoint without taking the broker's entry away), `pipeline sql`
read-only by default with the same typed output whether a process owns the store or not, and
`pipeline cancel` with a dry run, a confirmation for wide scopes and one-line errors."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

PIPELINE = [sys.executable, "-m", "pipeline.cli"]
SUMMARY_SQL = (
    "SELECT venue, count() AS orders, sum(filled_qty) AS filled, toDecimal128(0, 18) AS zero, "
    "CAST(NULL AS Nullable(String)) AS nothing, min(created_at) AS first "
    "FROM trading.orders FINAL GROUP BY venue ORDER BY venue"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(extra)
    return env


def _cli(data: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         timeout: float = 90) -> subprocess.CompletedProcess:  # fmt: skip
    return subprocess.run(
        [*PIPELINE, *args, "--data-dir", str(data)],
        env=env or _env(), capture_output=True, text=True, timeout=timeout,
        input=stdin if stdin is not None else "",
    )  # fmt: skip


def _state(data: Path) -> dict:
    return orjson.loads((data / "stack.json").read_bytes())


def _wait(predicate: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`pipeline broker` running on a data directory whose store holds the scenario's rows."""
    from scenario_data import scenario_envelopes

    root = tmp_path_factory.mktemp("operator")
    data = root / "data"
    raw = root / "raw.jsonl"
    raw.write_bytes(b"".join(e.encode() + b"\n" for _k, e in scenario_envelopes()))
    broker = subprocess.Popen(
        [*PIPELINE, "broker", "--data-dir", str(data)], env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: (data / "stack.json").exists() and _state(data).get("broker"), "broker")
        replayed = _cli(data, "replay", "--input", str(raw))
        assert replayed.returncode == 0, replayed.stderr
        yield data
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=60)


def test_sink_worker_beside_broker_serves_the_store_and_keeps_the_broker_entry(
    stack: Path,
) -> None:
    idle = _cli(stack, "sql", "--format", "json", SUMMARY_SQL)
    assert idle.returncode == 0, idle.stderr
    broker = _state(stack)["broker"]
    worker = subprocess.Popen(
        [*PIPELINE, "worker", "--role", "sink", "--metrics-port", "0", "--data-dir", str(stack)],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait(lambda: _state(stack).get("query_url"), "the worker's store endpoint")
        state = _state(stack)
        assert state["broker"] == broker  # issue 15: the worker used to overwrite it
        assert state["store_pid"] == worker.pid
        assert stat.S_IMODE(Path(state["query_token_file"]).stat().st_mode) == 0o600
        topics = _cli(stack, "topics")
        assert topics.returncode == 0, topics.stderr
        running = _cli(stack, "sql", "--format", "json", SUMMARY_SQL)
        assert running.returncode == 0, running.stderr
        assert running.stdout == idle.stdout  # one formatting path, typed values
        refused = _cli(stack, "sql", "--write", "CREATE DATABASE scratch_running")
        assert refused.returncode == 1
        assert "read-only" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        cli_stderr = _cli(stack, "sql", "SELECT file('/etc/hostname')").stderr
        assert "refused" in cli_stderr
        report_running = _cli(stack, "report", "positions", "--format", "csv")
        assert report_running.returncode == 0, report_running.stderr
        status_running = _cli(stack, "status")
        assert status_running.returncode == 0, status_running.stderr
        assert f"owned by pid {worker.pid}" in status_running.stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    state = _state(stack)  # the broker's file is still there, without the store's entries
    assert state["broker"] == broker
    assert state.get("query_url") is None
    assert _cli(stack, "topics").returncode == 0
    after = _cli(stack, "sql", "--format", "json", SUMMARY_SQL)
    assert after.stdout == idle.stdout
    assert _cli(stack, "report", "positions", "--format", "csv").stdout == report_running.stdout
    document = orjson.loads(idle.stdout)
    assert [m["name"] for m in document["meta"]] == [
        "venue", "orders", "filled", "zero", "nothing", "first"]  # fmt: skip
    row = document["data"][0]
    assert isinstance(row["orders"], int)
    assert row["orders"] > 0
    assert isinstance(row["filled"], str)  # exact decimal text
    assert row["zero"] == "0"
    assert row["nothing"] is None
    assert document["rows"] == len(document["data"]) > 0


def test_sql_is_read_only_unless_write(stack: Path) -> None:
    refused = _cli(stack, "sql", "CREATE DATABASE scratch_default")
    assert refused.returncode == 1
    assert "refused" in refused.stderr
    assert "Traceback" not in refused.stderr
    created = _cli(stack, "sql", "--write", "CREATE DATABASE IF NOT EXISTS scratch_written")
    assert created.returncode == 0, created.stderr
    sql = "SELECT name FROM system.databases WHERE name LIKE 'scratch%' ORDER BY name"
    names = _cli(stack, "sql", "--format", "csv", sql)
    assert names.stdout.splitlines() == ["name", "scratch_written"]


def test_empty_results_keep_their_header_in_every_format(stack: Path) -> None:
    sql = "SELECT venue, qty FROM trading.orders FINAL WHERE 0"
    table = _cli(stack, "sql", sql).stdout.splitlines()
    assert table[0].split(" | ") == ["venue", "qty"]
    assert table[-1] == "(0 rows)"
    assert _cli(stack, "sql", "--format", "csv", sql).stdout == "venue,qty\n"
    document = orjson.loads(_cli(stack, "sql", "--format", "json", sql).stdout)
    assert document == {"meta": [{"name": "venue", "type": "LowCardinality(String)"},
                                 {"name": "qty", "type": "Decimal(38, 18)"}],
                        "data": [], "rows": 0}  # fmt: skip


async def _commands_published(bootstrap: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic("commands.cancel") or set()
        tps = [TopicPartition("commands.cancel", p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        total = 0
        for _ in range(3):
            fetched = await consumer.getmany(timeout_ms=500)
            total += sum(len(records) for records in fetched.values())
        return total
    finally:
        await consumer.stop()


def test_cancel_dry_run_lists_per_account_and_sends_nothing(stack: Path) -> None:
    sql = "SELECT account, order_id FROM trading.open_orders WHERE venue = 'binance'"
    open_binance = _cli(stack, "sql", "--format", "csv", sql)
    expected = open_binance.stdout.splitlines()[1:]
    assert expected, "the scenario leaves binance orders open"
    keys = stack.parent / "keys.json"
    keys.write_text('{"ops": "k3y"}')
    env = _env(PIPELINE_COMMAND_KEYS=str(keys), PIPELINE_COMMAND_ISSUER="ops")
    before = asyncio.run(_commands_published(_state(stack)["broker"]))
    dry = _cli(stack, "cancel", "--venue", "binance", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"{len(expected)} open order(s)" in dry.stdout
    for line in expected:
        account, order_id = line.split(",")
        assert f"  {account}: " in dry.stdout
        assert f" {order_id} " in dry.stdout
    assert "no command sent" in dry.stdout
    unconfirmed = _cli(stack, "cancel", "--venue", "binance", env=env)
    assert unconfirmed.returncode == 1
    assert "--yes" in unconfirmed.stderr
    assert len(unconfirmed.stderr.strip().splitlines()) == 1
    account_wide = _cli(stack, "cancel", "--venue", "binance", "--account", "desk-1", env=env)
    assert account_wide.returncode == 1
    assert "--yes" in account_wide.stderr
    assert asyncio.run(_commands_published(_state(stack)["broker"])) == before
    sent = _cli(stack, "cancel", "--venue", "binance", "--yes", "--no-wait", env=env)
    assert sent.returncode == 0, sent.stderr
    assert asyncio.run(_commands_published(_state(stack)["broker"])) == before + 1


def test_cancel_with_no_pipeline_running_says_so_in_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path / "data", "cancel", "--venue", "upbit", "--yes")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"pipeline: error: no pipeline running in {(tmp_path / 'data').resolve()}: start "
        "`pipeline run` (or set PIPELINE_KAFKA_BOOTSTRAP for a cluster)"
    ]


def test_cancel_with_the_broker_unreachable_fails_in_one_line(tmp_path: Path) -> None:
    env = _env(PIPELINE_KAFKA_BOOTSTRAP="127.0.0.1:1", PIPELINE_COMMAND_KEY_OPS="k3y",
               PIPELINE_COMMAND_ISSUER="ops")  # fmt: skip
    result = _cli(tmp_path / "data", "cancel", "--venue", "upbit", "--account", "a",
                  "--symbol", "BTC/KRW", "--order-id", "1", env=env)  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:1 did not answer" in lines[0]


def test_report_filters_and_matches_the_tables(stack: Path) -> None:
    def csv_rows(*args: str) -> list[str]:
        result = _cli(stack, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    count = "SELECT count() FROM trading.orders FINAL WHERE venue = 'binance'"
    want = int(csv_rows("sql", "--format", "csv", count)[-1])
    orders = csv_rows("report", "orders", "--venue", "binance", "--format", "csv")
    assert orders[0].startswith("venue,account,symbol,order_id,side")
    assert len(orders) - 1 == want > 0
    assert all(line.startswith("binance,") for line in orders[1:])
    fills = csv_rows("report", "fills", "--format", "csv")
    since = fills[len(fills) // 2].split(",")[-1].replace(" ", "T")
    later = csv_rows("report", "fills", "--since", since, "--format", "csv")
    assert 1 < len(later) < len(fills)
    assert all(line.split(",")[-1] >= since.replace("T", " ") for line in later[1:])
    table = _cli(stack, "report", "positions", "--account", "nobody").stdout.splitlines()
    assert table[0].startswith("venue")
    assert table[-1] == "(0 rows)"
    bad = _cli(stack, "report", "fills", "--since", "yesterday-ish")
    assert bad.returncode == 2
    assert "--since" in bad.stderr


def test_status_shows_the_broker_lag_and_the_store_per_venue(stack: Path) -> None:
    shown = _cli(stack, "status")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("pipeline pid ")
    assert "broker only" in lines[0]
    assert any(line.startswith("lag (records not yet committed by the group): process ")
               for line in lines)  # fmt: skip
    venues = [line.split()[0] for line in lines if line.startswith(("binance ", "upbit "))]
    assert venues == ["binance", "upbit"]  # one line per venue, in order
    assert "open orders" in shown.stdout
    idle = _cli(stack.parent / "nothing-here", "status")
    assert idle.returncode == 1
    assert "no pipeline running" in idle.stdout
