"""Secrets never leave where they are kept (issue 15): the whole stack at DEBUG, scanned.

`pipeline run` on the simulator at log level DEBUG, with a command key canary in the
environment, a cancel command signed and executed through `pipeline cancel`, and /metrics
scraped during the run. Afterwards every output is searched for every secret in play: the
simulated venues' API keys and secrets (the ingestors and the cancel clients sign with them;
rebuilt here from the run's seed exactly as the simulator makes them), the operator's command
key (`<data dir>/command-keys.json`, the one place it may be) and the environment canary.
Searched: the run's and the cancel's stdout and stderr, the metrics, every table of the store,
and every file of the data directory (logs, the raw spool, checkpoints decompressed) except
the key file itself.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import clickhouse_connect
import orjson
from prometheus_client.parser import text_string_to_metric_families

from pipeline.sim.server import Simulator
from pipeline.simwiring import simulator_config
from pipeline.streams.checkpoint import decode

PIPELINE = [sys.executable, "-m", "pipeline.cli"]
SEED = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rows_written(scrapes: dict[str, bytes]) -> bool:
    """Has the sink written rows yet (the cancel role is up by then)?"""
    for text in scrapes.values():
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if sample.name == "pipeline_sink_rows_written_total" and sample.value > 0:
                    return True
    return False


def _venue_secrets() -> dict[str, str]:
    """name -> value of every API key and secret the run's simulated venues hand out."""
    simulator = Simulator(simulator_config(SEED, None, None, None))  # as `pipeline run`'s
    found = {}
    for venue in simulator.servers:
        for credential in simulator.credentials(venue):
            found[f"{venue}/{credential.account} api key"] = credential.key
            found[f"{venue}/{credential.account} secret"] = credential.secret
    return found


def _file_texts(data: Path) -> dict[str, bytes]:
    out = {}
    for path in data.rglob("*"):
        if not path.is_file() or path.name == "command-keys.json" or "store" in path.parts:
            continue
        body = path.read_bytes()
        if path.suffix == ".ckpt":  # a JSON header line, then the compressed body
            header = body.partition(b"\n")[0]
            body = header + orjson.dumps(decode(body, str(path)).body)
        out[str(path.relative_to(data))] = body
    return out


def _store_texts(data: Path) -> dict[str, bytes]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{(data / 'store').resolve()}")
    tables = client.query(
        "SELECT name FROM system.tables WHERE database = 'trading' AND engine NOT LIKE '%View'"
    ).result_rows
    return {
        f"table {name}": client.raw_query(f"SELECT * FROM trading.`{name}` FORMAT TSV")
        for (name,) in tables
    }


def test_no_secret_reaches_logs_metrics_tables_or_files_at_debug(tmp_path: Path) -> None:
    canary = "canary-" + secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env["PIPELINE_COMMAND_KEY_CANARY_OPS"] = canary
    data = tmp_path / "data"
    port = _free_port()
    out_path, err_path = tmp_path / "run.out", tmp_path / "run.err"
    run_out, run_err = open(out_path, "wb"), open(err_path, "wb")  # noqa: SIM115
    run = subprocess.Popen(
        [*PIPELINE, "run", "--duration", "28", "--rate", "30", "--seed", str(SEED),
         "--data-dir", str(data), "--metrics-port", str(port), "--log-level", "DEBUG"],
        cwd=tmp_path, env=env, stdout=run_out, stderr=run_err,  # DEBUG would fill a pipe
    )  # fmt: skip
    outputs: dict[str, bytes] = {}
    cancel = None
    try:
        deadline = time.monotonic() + 60
        while run.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    outputs[f"metrics {len(outputs)}"] = r.read()
            except OSError:
                pass
            if cancel is None and _rows_written(outputs):
                cancel = subprocess.run(
                    [*PIPELINE, "cancel", "--venue", "binance", "--symbol", "BTCUSDT", "--yes",
                     "--data-dir", str(data), "--log-level", "DEBUG", "--timeout", "20"],
                    cwd=tmp_path, env=env, capture_output=True, timeout=60,
                )  # fmt: skip
            time.sleep(1.0)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
        run_out.close()
        run_err.close()
    stdout, stderr = out_path.read_bytes(), err_path.read_bytes()
    assert run.returncode == 0, stderr.decode(errors="replace")[-3000:]
    assert cancel is not None, f"no rows written before the run ended ({len(outputs)} scrapes)"
    assert cancel.returncode == 0, cancel.stdout.decode(errors="replace")[-2000:]
    outputs |= {"run stdout": stdout, "run stderr": stderr}
    outputs |= {"cancel stdout": cancel.stdout, "cancel stderr": cancel.stderr}
    outputs |= _file_texts(data)
    outputs |= _store_texts(data)
    assert any(b"DEBUG" in text for text in outputs.values()), "the run did not log at DEBUG"
    assert any(name.startswith("table cancel_commands") for name in outputs)
    keys_file = orjson.loads((data / "command-keys.json").read_bytes())
    wanted = _venue_secrets()
    wanted |= {f"command key {name}": value for name, value in keys_file.items()}
    wanted["environment command key canary"] = canary
    assert len(wanted) > 30
    leaks = [
        f"{secret_name} in {where}"
        for secret_name, value in wanted.items()
        for where, text in outputs.items()
        if value.encode() in text
    ]
    print(f"{len(wanted)} secrets searched in {len(outputs)} outputs "
          f"({sum(map(len, outputs.values())):,} bytes): {len(leaks)} found")  # fmt: skip
    assert not leaks, leaks[:10]
