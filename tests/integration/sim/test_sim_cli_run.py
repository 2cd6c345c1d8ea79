"""`pipeline sim` end to end: endpoints printed, keys in a private file, truth written."""

from __future__ import annotations

import argparse
import asyncio
import io
import stat
from pathlib import Path

import orjson

from pipeline.sim.cli import add_arguments, build_config, serve


async def test_run_prints_endpoints_writes_keys_privately_and_the_truth(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    keys, truth = tmp_path / "keys.json", tmp_path / "truth.json"
    args = parser.parse_args(
        ["--rate", "200", "--duration", "0.5", "--seed", "5", "--secrets-out", str(keys),
         "--truth-out", str(truth), "--faults", "binance:duplicate=0.1"]
    )  # fmt: skip
    out = io.StringIO()
    assert await asyncio.wait_for(serve(build_config(args), args, out), timeout=20) == 0
    text = out.getvalue()
    assert "upbit: rest=http://127.0.0.1:" in text
    assert "binance: ws_api=ws://127.0.0.1:" in text
    assert "orders " in text
    secrets = orjson.loads(keys.read_bytes())
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    for venue_keys in secrets.values():
        for entry in venue_keys:
            assert entry["secret_key"] not in text
            assert entry["api_key"] not in text
    exported = orjson.loads(truth.read_bytes())
    assert exported["orders"]
    assert exported["positions"]
