"""The cancel worker's configuration: venue accounts, issuer keys and the allow-list.

A file (TOML or JSON by suffix; `PIPELINE_CANCEL_CONFIG` names it):

    secrets_file = "sim-keys.json"    # venue keys, the simulator's --secrets-out format
    keys_file = "command-keys.json"   # optional issuer keys {"issuer": "key"}
    max_age_seconds = 300             # older commands are refused as replays
    confirm_timeout_seconds = 20

    [[accounts]]
    venue = "binance"
    account = "alice"
    base_url = "https://api.binance.com"
    ws_url = "wss://ws-api.binance.com/ws-api/v3"

    [[allow]]
    issuer = "ops-alice"
    venue = "binance"          # "*" (default): every venue
    accounts = ["alice"]       # ["*"] (default): every account

Venue keys come from the environment (`PIPELINE_<VENUE>_<ACCOUNT>_API_KEY` / `_SECRET_KEY`,
as for the ingestors) or the secrets file; issuer keys from `PIPELINE_COMMAND_KEY_<ISSUER>`
or the keys file. No secret is ever read from the config file itself or shown.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.commands.auth import Grant, KeyRing, parse_grants
from pipeline.commands.clients.base import VenueAccount
from pipeline.errors import ConfigError
from pipeline.venues.credentials import Credentials, credential_env_names, load_secrets_file

ENV_CANCEL_CONFIG = "PIPELINE_CANCEL_CONFIG"
ENV_COMMAND_KEYS = "PIPELINE_COMMAND_KEYS"


@dataclass(frozen=True)
class CancelConfig:
    accounts: tuple[VenueAccount, ...]
    grants: tuple[Grant, ...]
    keys: KeyRing = field(default_factory=KeyRing)
    max_age_ms: int = 300_000
    confirm_timeout_s: float | None = None
    group_id: str = "pipeline-cancel"


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
        data = tomllib.loads(text.decode()) if path.suffix == ".toml" else json.loads(text)
    except FileNotFoundError as exc:
        raise ConfigError(ENV_CANCEL_CONFIG, str(path), "file not found") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(ENV_CANCEL_CONFIG, str(path), f"unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(ENV_CANCEL_CONFIG, str(path), "expected a table/object")
    return data


def load_keys_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(ENV_COMMAND_KEYS, str(path), "not a readable JSON file") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(ENV_COMMAND_KEYS, str(path), 'expected {"issuer": "key"}')
    return dict(data)


def load_cancel_config(path: Path | str, env: Mapping[str, str] | None = None) -> CancelConfig:
    env = os.environ if env is None else env
    path = Path(path)
    data = _read(path)
    base = path.parent
    secrets: dict[tuple[str, str], Credentials] = {}
    if data.get("secrets_file"):
        secrets = load_secrets_file(base / str(data["secrets_file"]))
    keys_path = env.get(ENV_COMMAND_KEYS) or data.get("keys_file")
    file_keys = load_keys_file(base / str(keys_path)) if keys_path else {}
    accounts = []
    for number, entry in enumerate(data.get("accounts", [])):
        try:
            venue, account, url = entry["venue"], entry["account"], entry["base_url"]
        except (KeyError, TypeError):
            raise ConfigError(
                ENV_CANCEL_CONFIG, str(path), f"accounts[{number}] needs venue, account, base_url"
            ) from None
        key_name, secret_name = credential_env_names(venue, account)
        creds = (
            Credentials(env[key_name], env[secret_name])
            if env.get(key_name) and env.get(secret_name)
            else secrets.get((venue, account))
        )
        if creds is None:
            raise ConfigError(key_name, "(unset)", f"no keys for {venue}/{account}")
        accounts.append(VenueAccount(venue, account, url, creds, ws_url=entry.get("ws_url")))
    try:
        grants = parse_grants(data.get("allow", []))
    except ValueError as exc:
        raise ConfigError(ENV_CANCEL_CONFIG, str(path), str(exc)) from exc
    timeout = data.get("confirm_timeout_seconds")
    return CancelConfig(
        accounts=tuple(accounts),
        grants=tuple(grants),
        keys=KeyRing(env=env, file_keys=file_keys),
        max_age_ms=int(float(data.get("max_age_seconds", 300)) * 1000),
        confirm_timeout_s=None if timeout is None else float(timeout),
    )


LOCAL_KEYS_FILE = "command-keys.json"


def local_operator() -> str:
    """The issuer of commands on an embedded stack: the user running it."""
    import getpass

    return getpass.getuser()


def create_local_keys(data_dir: Path) -> Path:
    """A fresh issuer key for the local operator, in a file only its owner can read.

    The embedded main job trusts whoever can read its data directory: `pipeline cancel`
    started by the same user signs with this key, with no configuration.
    """
    import secrets

    from pipeline.local.secretfile import write_secret_file

    # a new 0600 file renamed over the old one: never readable by others, not even for the
    # moment an older, wider copy would be truncated and rewritten in place
    return write_secret_file(
        data_dir / LOCAL_KEYS_FILE, json.dumps({local_operator(): secrets.token_hex(32)})
    )
