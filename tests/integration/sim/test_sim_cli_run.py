"""`pipeline sim` end to end: endpoints printed, keys in a private file, truth written."""

from __future__ import annotations

import argparse
import asyncio
import io
import stat
from pathlib import Path

import orjson
import pytest

from pipeline.ingest.config import load_ingest_config
from pipeline.sim.cli import add_arguments, build_config, serve


async def test_run_prints_endpoints_writes_keys_privately_and_the_truth(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    keys, truth = tmp_path / "keys.json", tmp_path / "truth.json"
    args = parser.parse_args(
        ["--rate", "200", "--duration", "0.5", "--seed", "5", "--secrets-out", str(keys),
         "--truth-out", str(truth), "--faults", "binance:duplicate=0.1",
         "--ingest-config-out", str(tmp_path / "ingest.json")]
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
    assert f"ingest config written to {tmp_path / 'ingest.json'}" in text
    written = load_ingest_config(tmp_path / "ingest.json", env={})
    assert sorted(a.name for a in written.accounts) == sorted(
        f"{venue}/{entry['account']}" for venue, entries in secrets.items() for entry in entries
    )


async def test_worker_config_files_load_as_the_in_memory_wiring_of_pipeline_run(
    tmp_path: Path,
) -> None:
    """`--ingest-config-out` / `--cancel-config-out` point separately started workers at the
    simulator: the files load through the workers' own loaders into the same accounts, URLs,
    symbols, wire formats and keys that `pipeline run` wires in memory."""
    from pipeline.commands.config import load_cancel_config
    from pipeline.sim.server import Simulator
    from pipeline.simwiring import ingest_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    keys, ingest, cancel = tmp_path / "keys.json", tmp_path / "ingest.json", tmp_path / "c.json"
    args = parser.parse_args(
        ["--rate", "0", "--seed", "9", "--secrets-out", str(keys), "--ingest-config-out",
         str(ingest), "--cancel-config-out", str(cancel), "--cancel-issuer", "desk-ops"]
    )  # fmt: skip
    config = build_config(args)
    simulator = Simulator(config)
    await simulator.start(flow=False)
    try:
        from pipeline.sim.cli import write_secrets
        from pipeline.sim.worker_configs import (
            cancel_config_document,
            ingest_config_document,
            write_json,
        )

        write_secrets(keys, simulator)
        write_json(ingest, ingest_config_document(simulator, keys))
        write_json(cancel, cancel_config_document(simulator, keys, "desk-ops"))
        assert stat.S_IMODE(ingest.stat().st_mode) == 0o600
        loaded = load_ingest_config(ingest, env={})
        wired = ingest_config(simulator)
        assert [(a.venue, a.account, a.base_url, a.ws_url, a.symbols, a.options,
                 a.credentials) for a in loaded.accounts] == [
            (a.venue, a.account, a.base_url, a.ws_url, a.symbols, a.options, a.credentials)
            for a in wired.accounts
        ]  # fmt: skip
        canceller = load_cancel_config(cancel, env={})
        assert sorted((a.venue, a.account, a.base_url, a.ws_url, a.credentials)
                      for a in canceller.accounts) == sorted(
            (a.venue, a.account, a.base_url, a.ws_url, a.credentials) for a in wired.accounts
        )  # fmt: skip
        assert [g.issuer for g in canceller.grants] == ["desk-ops"]
        for secret in orjson.loads(keys.read_bytes())["binance"]:
            assert secret["secret_key"] not in ingest.read_text() + cancel.read_text()
    finally:
        await simulator.stop()


def test_a_worker_config_without_the_keys_file_is_refused(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--ingest-config-out", str(tmp_path / "ingest.json")])
    with pytest.raises(ValueError, match=r"--ingest-config-out .* needs --secrets-out"):
        build_config(args)
