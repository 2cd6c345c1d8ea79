"""Ingest configuration: TOML/JSON files, credentials from env or secrets file, masking."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.ingest.config import (
    ENV_INGEST_SECRETS,
    Backoff,
    Credentials,
    credential_env_names,
    load_ingest_config,
    parse_ingest_config,
)

SECRET = "S3CRET-never-shown-0123456789"
API_KEY = "AK-never-shown-abcdef"

TOML = """
secrets_file = "keys.json"

[defaults]
backoff_initial = 0.25
ping_interval = 15

[[ingestors]]
venue = "upbit"
account = "alice"
base_url = "http://127.0.0.1:9001/"
ws_url = "ws://127.0.0.1:9001/websocket/v1/private"
symbols = ["KRW-BTC", "KRW-ETH", "KRW-BTC"]
options = { format = "SIMPLE" }

[[ingestors]]
venue = "binance"
account = "desk-2"
ws_url = "ws://127.0.0.1:9002/ws-api/v3"
symbols = ["BTCUSDT"]
backoff_max = 5
"""


def write_secrets(path: Path) -> None:
    path.write_text(
        json.dumps({"upbit": [{"account": "alice", "api_key": API_KEY, "secret_key": SECRET}]})
    )
    path.chmod(0o600)


def test_load_toml_reads_entries_defaults_and_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "ingest.toml").write_text(TOML)
    write_secrets(tmp_path / "keys.json")
    env = {"PIPELINE_BINANCE_DESK_2_API_KEY": "bk", "PIPELINE_BINANCE_DESK_2_SECRET_KEY": "bs"}
    config = load_ingest_config(tmp_path / "ingest.toml", env)
    upbit, binance = config.accounts
    assert (upbit.venue, upbit.account, upbit.base_url) == (
        "upbit",
        "alice",
        "http://127.0.0.1:9001",
    )
    assert upbit.symbols == ("KRW-BTC", "KRW-ETH")
    assert upbit.options == {"format": "SIMPLE"}
    assert upbit.credentials == Credentials(API_KEY, SECRET)
    assert upbit.backoff.initial == 0.25
    assert upbit.ping_interval == 15
    assert binance.base_url == "https://api.binance.com"  # the venue's default
    assert binance.backoff == Backoff(initial=0.25, maximum=5.0)
    assert binance.credentials == Credentials("bk", "bs")
    assert config.venues == ("upbit", "binance")


def test_load_json_with_environment_credentials_and_secrets_env_override(tmp_path: Path) -> None:
    data = {"ingestors": [{"venue": "upbit", "account": "alice", "symbols": ["KRW-BTC"]}]}
    (tmp_path / "ingest.json").write_text(json.dumps(data))
    write_secrets(tmp_path / "elsewhere.json")
    config = load_ingest_config(
        tmp_path / "ingest.json", {ENV_INGEST_SECRETS: str(tmp_path / "elsewhere.json")}
    )
    assert config.accounts[0].credentials == Credentials(API_KEY, SECRET)
    assert config.accounts[0].ws_url == "wss://api.upbit.com/websocket/v1/private"


def test_environment_credentials_win_over_the_secrets_file(tmp_path: Path) -> None:
    write_secrets(tmp_path / "keys.json")
    data = {
        "secrets_file": str(tmp_path / "keys.json"),
        "ingestors": [{"venue": "upbit", "account": "alice"}],
    }
    key, secret = credential_env_names("upbit", "alice")
    config = parse_ingest_config(data, {key: "env-key", secret: "env-secret"})
    assert config.accounts[0].credentials == Credentials("env-key", "env-secret")


def test_credential_env_names_are_upper_case_with_underscores() -> None:
    assert credential_env_names("futures_gateway", "EXCHANGE-2.a") == (
        "PIPELINE_FUTURES_GATEWAY_EXCHANGE_2_A_API_KEY",
        "PIPELINE_FUTURES_GATEWAY_EXCHANGE_2_A_SECRET_KEY",
    )


@pytest.mark.parametrize(
    ("entry", "setting"),
    [
        ({"venue": "kraken", "account": "a"}, "ingestors[0].venue"),
        ({"venue": "upbit"}, "ingestors[0].account"),
        ({"venue": "upbit", "account": "a", "base_url": "ftp://x"}, "ingestors[0].base_url"),
        ({"venue": "upbit", "account": "a", "ws_url": "http://x"}, "ingestors[0].ws_url"),
        ({"venue": "upbit", "account": "a", "symbols": "KRW-BTC"}, "ingestors[0].symbols"),
        ({"venue": "upbit", "account": "a", "ping_interval": 0}, "ingestors[0].ping_interval"),
        ({"venue": "upbit", "account": "a", "colour": "red"}, "ingestors[0].colour"),
    ],
)
def test_bad_entries_raise_config_error_naming_the_setting(entry: dict, setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ingest_config({"ingestors": [entry]}, {})
    assert setting in caught.value.setting


def test_keys_in_the_config_file_are_refused_without_echoing_them() -> None:
    entry = {"venue": "upbit", "account": "a", "secret_key": SECRET}
    with pytest.raises(ConfigError) as caught:
        parse_ingest_config({"ingestors": [entry]}, {})
    assert SECRET not in str(caught.value)
    assert "environment or a secrets file" in str(caught.value)


def test_half_set_environment_credentials_name_the_missing_variable() -> None:
    key, secret = credential_env_names("upbit", "a")
    with pytest.raises(ConfigError) as caught:
        parse_ingest_config({"ingestors": [{"venue": "upbit", "account": "a"}]}, {key: API_KEY})
    assert caught.value.setting == secret
    assert API_KEY not in str(caught.value)


def test_missing_credentials_error_names_the_variables_not_a_value() -> None:
    config = parse_ingest_config({"ingestors": [{"venue": "upbit", "account": "a"}]}, {})
    with pytest.raises(ConfigError, match="PIPELINE_UPBIT_A_API_KEY"):
        config.accounts[0].require_credentials()


def test_malformed_secrets_file_error_never_shows_its_content(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"upbit": [{"account": "a", "api_key": "' + SECRET + '"')
    with pytest.raises(ConfigError) as caught:
        parse_ingest_config(
            {"secrets_file": str(path), "ingestors": [{"venue": "upbit", "account": "a"}]}, {}
        )
    assert SECRET not in str(caught.value)


def test_secrets_are_masked_in_every_repr_str_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "ingest.toml").write_text(TOML)
    write_secrets(tmp_path / "keys.json")
    (tmp_path / "keys.json").chmod(0o644)  # also exercises the permission warning
    env = {"PIPELINE_BINANCE_DESK_2_API_KEY": API_KEY, "PIPELINE_BINANCE_DESK_2_SECRET_KEY": SECRET}
    with caplog.at_level(logging.DEBUG):
        config = load_ingest_config(tmp_path / "ingest.toml", env)
        logging.getLogger("test").info(
            "config %s %r %s", config, config.accounts, config.accounts[0]
        )
    accounts = config.accounts
    shown = " ".join(
        [repr(config), str(config), caplog.text]
        + [
            text
            for a in accounts
            for text in (repr(a), str(a), repr(a.credentials), str(a.credentials))
        ]
    )
    assert SECRET not in shown
    assert API_KEY not in shown
    assert "credentials=set" in shown
    assert "***" in shown
    assert "readable by group or others" in caplog.text


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, factor=2.0, jitter=0.5)
    assert [backoff.delay(n, 0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(2, 0.999) == pytest.approx(1.0, abs=0.01)  # at most half off
    assert backoff.delay(10_000, 0.0) == 4.0
