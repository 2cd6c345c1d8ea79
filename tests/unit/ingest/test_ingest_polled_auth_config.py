"""The polled venues' credentials (Coinone, SSI, the gateway) in the config and secrets file,
always masked; the token bucket that keeps pollers under the venues' limits. (Their request
signing is tested with the one signer, tests/unit/venues/test_polled_venues_auth.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.errors import ConfigError
from pipeline.ingest import INGESTORS, IngestStats, build_ingestor, parse_ingest_config
from pipeline.ingest.config import extra_credential_env_names, load_secrets_file
from pipeline.ingest.ratelimit import TokenBucket
from pipeline.sim.cli import write_secrets
from pipeline.sim.ssi import SsiCredential
from pipeline.sim.venue import Credential
from pipeline.venues.credentials import Credentials
from pipeline.venues.ssi import auth as ssi_auth

PEM = ssi_auth.private_key_pem(1024)
KEYS = Credentials("AK-polled-abcdef", "S3CRET-polled-0123456789", PEM, "246810")


def test_credentials_never_show_any_part() -> None:
    text = repr(KEYS) + str(KEYS)
    for secret in (KEYS.api_key, KEYS.secret_key, "PRIVATE KEY", KEYS.pin):
        assert secret not in text
    assert "private_key=***" in text
    assert "pin=***" in text


def _entries(**extra: object) -> dict:
    return {"ingestors": [
        {"venue": "ssi", "account": "1184418", "base_url": "http://127.0.0.1:1",
         "ws_url": "ws://127.0.0.1:1/v2.0/stream", **extra},
        {"venue": "futures_gateway", "account": "EXCHANGE_2", "base_url": "http://127.0.0.1:2",
         "symbols": ["BTCUSDT"], "rate_limit": 8, "rate_burst": 3},
    ]}  # fmt: skip


def test_secrets_file_carries_the_ssi_private_key_and_pin(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({
        "ssi": [{"account": "1184418", "api_key": "cid", "secret_key": "csecret",
                 "private_key": PEM, "pin": "246810"}],
        "futures_gateway": [{"account": "EXCHANGE_2", "api_key": "gk", "secret_key": "gs"}],
    }))  # fmt: skip
    path.chmod(0o600)
    config = parse_ingest_config({"secrets_file": str(path), **_entries()}, env={})
    ssi, gateway = config.accounts
    assert ssi.credentials == Credentials("cid", "csecret", PEM, "246810")
    assert gateway.credentials == Credentials("gk", "gs")
    assert (gateway.rate_limit, gateway.rate_burst) == (8.0, 3.0)
    assert ssi.rate_limit is None
    text = repr(config) + repr(ssi) + repr(gateway) + str(ssi.credentials)
    assert "csecret" not in text
    assert "BEGIN" not in text
    assert "246810" not in text


def test_secrets_file_rejects_a_malformed_private_key_entry_without_echoing_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"ssi": [{"account": "a", "api_key": "k", "secret_key": "s",
                                         "private_key": 12345}]}))  # fmt: skip
    with pytest.raises(ConfigError, match="private_key") as caught:
        load_secrets_file(path)
    assert "12345" not in str(caught.value)


def test_ssi_credentials_from_the_environment_and_the_pin_is_required() -> None:
    private_name, pin_name = extra_credential_env_names("ssi", "1184418")
    assert (private_name, pin_name) == (
        "PIPELINE_SSI_1184418_PRIVATE_KEY",
        "PIPELINE_SSI_1184418_PIN",
    )
    env = {"PIPELINE_SSI_1184418_API_KEY": "cid", "PIPELINE_SSI_1184418_SECRET_KEY": "cs",
           private_name: PEM, "PIPELINE_FUTURES_GATEWAY_EXCHANGE_2_API_KEY": "gk",
           "PIPELINE_FUTURES_GATEWAY_EXCHANGE_2_SECRET_KEY": "gs"}  # fmt: skip
    config = parse_ingest_config(_entries(), env=env)
    ssi = config.accounts[0]
    assert ssi.credentials == Credentials("cid", "cs", PEM, None)
    with pytest.raises(ConfigError, match=pin_name):
        build_ingestor(ssi, SimpleNamespace(), IngestStats())  # type: ignore[arg-type]
    config = parse_ingest_config(_entries(), env={**env, pin_name: "1"})
    ingestor = build_ingestor(config.accounts[0], SimpleNamespace(), IngestStats())  # type: ignore[arg-type]
    assert "cs" not in repr(ingestor)


@pytest.mark.parametrize("name", ["private_key", "pin"])
def test_keys_in_the_config_file_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="do not belong") as caught:
        parse_ingest_config(_entries(**{name: "leaked-value"}), env={})
    assert "leaked-value" not in str(caught.value)


def test_every_venue_has_an_ingestor_and_pollers_get_a_bucket() -> None:
    assert set(INGESTORS) == {"upbit", "binance", "coinone", "ssi", "futures_gateway"}
    env = {"PIPELINE_FUTURES_GATEWAY_EXCHANGE_2_API_KEY": "gk",
           "PIPELINE_FUTURES_GATEWAY_EXCHANGE_2_SECRET_KEY": "gs",
           "PIPELINE_SSI_1184418_API_KEY": "a", "PIPELINE_SSI_1184418_SECRET_KEY": "b"}  # fmt: skip
    gateway = parse_ingest_config(_entries(), env=env).accounts[1]
    ingestor = build_ingestor(gateway, SimpleNamespace(), IngestStats())  # type: ignore[arg-type]
    assert (ingestor.bucket.rate, ingestor.bucket.burst) == (8.0, 3.0)  # type: ignore[attr-defined]


def test_sim_secrets_out_writes_what_the_ssi_ingestor_needs(tmp_path: Path) -> None:
    ssi = SsiCredential("1184418", "cid", "csecret", PEM)
    simulator = SimpleNamespace(
        servers={"ssi": None, "coinone": None},
        credentials=lambda venue: [ssi] if venue == "ssi" else [Credential("a", "k", "s")],
    )
    path = tmp_path / "keys.json"
    write_secrets(path, simulator)  # type: ignore[arg-type]
    assert path.stat().st_mode & 0o077 == 0
    keys = load_secrets_file(path)
    assert keys[("ssi", "1184418")].private_key == PEM
    assert keys[("ssi", "1184418")].pin
    assert keys[("coinone", "a")] == Credentials("k", "s")


async def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=3, clock=lambda: now[0])
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.1
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    real = TokenBucket(rate=50, burst=1)
    started = time.monotonic()
    for _ in range(6):
        await real.acquire()
    assert time.monotonic() - started >= 0.09  # 5 waits of 20 ms
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate=0)
    await asyncio.sleep(0)
