"""Ingestor configuration: which venues and accounts to ingest, where, and with which keys.

A file (TOML or JSON, chosen by the suffix) lists one entry per venue account; keys never
come from it (nor from the command line): they come from the environment,
`PIPELINE_<VENUE>_<ACCOUNT>_API_KEY` / `_SECRET_KEY` (SSI also `_PRIVATE_KEY`, the RSA key
PEM for `X-Signature`, and `_PIN`, the two-factor code of its AccessToken call), or from a
secrets file in the simulator's `--secrets-out` format
`{venue: [{account, api_key, secret_key, private_key?, pin?}]}`.

    secrets_file = "sim-keys.json"      # optional; PIPELINE_INGEST_SECRETS overrides it

    [defaults]                          # optional, per-entry keys override these
    backoff_initial = 0.5               # seconds before the first reconnect
    backoff_max = 30.0
    ping_interval = 20.0                # keep-alive period of WebSocket ingestors
    poll_interval = 2.0                 # period of REST pollers
    rate_limit = 10.0                   # REST requests per second per account (token bucket;
    rate_burst = 5                      #   default: a safe share of the venue's own limit)

    [[ingestors]]
    venue = "upbit"
    account = "alice"
    base_url = "https://api.upbit.com"  # REST; the default is the venue's production URL
    ws_url = "wss://api.upbit.com/websocket/v1/private"
    symbols = ["KRW-BTC", "KRW-ETH"]    # as the venue spells them

Secrets are masked (`***`) in every repr, log line and error message.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.venues.credentials import (
    ENV_SECRETS_FILE,
    MASK,
    Credentials,
    credential_env_names,
    extra_credential_env_names,
    load_secrets_file,
)
from pipeline.venues.registry import VENUES

log = logging.getLogger(__name__)

ENV_INGEST_CONFIG = "PIPELINE_INGEST_CONFIG"
ENV_INGEST_SECRETS = ENV_SECRETS_FILE

DEFAULT_URLS: dict[str, dict[str, str]] = {
    "upbit": {
        "base_url": "https://api.upbit.com",
        "ws_url": "wss://api.upbit.com/websocket/v1/private",
    },
    "binance": {
        "base_url": "https://api.binance.com",
        "ws_url": "wss://ws-api.binance.com/ws-api/v3",
    },
    "coinone": {
        "base_url": "https://api.coinone.co.kr",
        "ws_url": "wss://stream.coinone.co.kr/v1/private",
    },
    "ssi": {"base_url": "https://fc-tradeapi.ssi.com.vn"},
}
_SECRET_NAMES = frozenset(
    {"api_key", "secret_key", "secret", "apikey", "password", "token", "private_key", "pin"}
)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delays with jitter: `initial * factor**n`, capped at `maximum`,
    each scaled by a random factor in `[1 - jitter, 1]`. A connection that stayed up for
    `stable_after` seconds resets the sequence."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    stable_after: float = 10.0

    def delay(self, attempt: int, rand: float) -> float:
        """The delay before reconnect `attempt` (0-based), given `rand` uniform in [0, 1)."""
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return base * (1.0 - self.jitter * rand)


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One ingestor: a venue account, where the venue is, and what to ingest."""

    venue: str
    account: str
    base_url: str
    ws_url: str | None = None
    symbols: tuple[str, ...] = ()
    credentials: Credentials | None = field(default=None, repr=False)
    backoff: Backoff = field(default_factory=Backoff)
    ping_interval: float = 20.0
    poll_interval: float = 2.0
    request_timeout: float = 10.0
    rate_limit: float | None = None  # REST requests/s of this account (None: venue default)
    rate_burst: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.venue}/{self.account}"

    def __repr__(self) -> str:
        keys = "set" if self.credentials is not None else "missing"
        return (
            f"AccountConfig({self.name}, base_url={self.base_url!r}, ws_url={self.ws_url!r}, "
            f"symbols={list(self.symbols)}, credentials={keys})"
        )

    __str__ = __repr__

    def require_credentials(self) -> Credentials:
        if self.credentials is None:
            names = credential_env_names(self.venue, self.account)
            raise ConfigError(
                names[0], "(unset)", f"no API key for {self.name}: set {names[0]} and "
                f"{names[1]} or list the account in the secrets file"
            )  # fmt: skip
        return self.credentials


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Every ingestor of one process."""

    accounts: tuple[AccountConfig, ...]
    queue_size: int = 10_000
    source: str = "<memory>"

    def __repr__(self) -> str:
        return f"IngestConfig({self.source}, {[a.name for a in self.accounts]})"

    __str__ = __repr__

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.venue for a in self.accounts))


def _credentials(
    venue: str,
    account: str,
    env: Mapping[str, str],
    secrets: Mapping[tuple[str, str], Credentials],
) -> Credentials | None:
    key_name, secret_name = credential_env_names(venue, account)
    key, secret = env.get(key_name), env.get(secret_name)
    if key and secret:
        private_name, pin_name = extra_credential_env_names(venue, account)
        return Credentials(key, secret, env.get(private_name) or None, env.get(pin_name) or None)
    if key or secret:
        missing = secret_name if key else key_name
        raise ConfigError(missing, "(unset)", f"both {key_name} and {secret_name} are needed")
    return secrets.get((venue, account))


def _number(setting: str, value: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(setting, value, "expected a number")
    if value < 0 or (positive and value == 0):
        raise ConfigError(setting, value, "must be greater than zero")
    return float(value)


def _text(setting: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(setting, value, "expected a non-empty string")
    return value.strip()


def _url(setting: str, value: Any, schemes: tuple[str, ...]) -> str:
    url = _text(setting, value)
    if not url.startswith(tuple(f"{s}://" for s in schemes)):
        raise ConfigError(setting, url, f"expected a {' or '.join(schemes)} URL")
    return url.rstrip("/")


_TUNABLES = {
    "backoff_initial": ("backoff", "initial"),
    "backoff_max": ("backoff", "maximum"),
    "backoff_stable_after": ("backoff", "stable_after"),
    "ping_interval": ("", "ping_interval"),
    "poll_interval": ("", "poll_interval"),
    "request_timeout": ("", "request_timeout"),
    "rate_limit": ("", "rate_limit"),
    "rate_burst": ("", "rate_burst"),
}
_ENTRY_KEYS = frozenset({"venue", "account", "base_url", "ws_url", "symbols", "options"})


def _entry(
    where: str,
    raw: Any,
    defaults: Mapping[str, Any],
    env: Mapping[str, str],
    secrets: Mapping[tuple[str, str], Credentials],
) -> AccountConfig:
    if not isinstance(raw, dict):
        raise ConfigError(where, type(raw).__name__, "expected a table/object")
    secret_keys = sorted(k for k in raw if k.lower() in _SECRET_NAMES)
    if secret_keys:
        raise ConfigError(
            f"{where}.{secret_keys[0]}",
            MASK,
            "keys do not belong in the config file: use the environment or a secrets file",
        )
    unknown = sorted(set(raw) - _ENTRY_KEYS - set(_TUNABLES))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", raw[unknown[0]], "unknown setting")
    venue = _text(f"{where}.venue", raw.get("venue"))
    if venue not in VENUES:
        raise ConfigError(f"{where}.venue", venue, f"unknown venue; known: {', '.join(VENUES)}")
    account = _text(f"{where}.account", raw.get("account"))
    if "|" in account:
        raise ConfigError(f"{where}.account", account, "must not contain '|'")
    urls = DEFAULT_URLS.get(venue, {})
    base_url = _url(
        f"{where}.base_url", raw.get("base_url", urls.get("base_url")), ("http", "https")
    )
    ws_raw = raw.get("ws_url", urls.get("ws_url"))
    ws_url = None if ws_raw is None else _url(f"{where}.ws_url", ws_raw, ("ws", "wss"))
    symbols_raw = raw.get("symbols", [])
    if not isinstance(symbols_raw, list) or not all(
        isinstance(s, str) and s and "|" not in s for s in symbols_raw
    ):
        raise ConfigError(f"{where}.symbols", symbols_raw, "expected a list of venue symbols")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}.options", options, "expected a table/object")
    merged = {**defaults, **{k: v for k, v in raw.items() if k in _TUNABLES}}
    backoff = Backoff()
    tunables: dict[str, float] = {}
    for name, value in merged.items():
        group, attr = _TUNABLES[name]
        number = _number(f"{where}.{name}", value)
        if group == "backoff":
            backoff = replace(backoff, **{attr: number})
        else:
            tunables[attr] = number
    if backoff.maximum < backoff.initial:
        raise ConfigError(f"{where}.backoff_max", backoff.maximum, "below backoff_initial")
    return AccountConfig(
        venue=venue,
        account=account,
        base_url=base_url,
        ws_url=ws_url,
        symbols=tuple(dict.fromkeys(symbols_raw)),
        credentials=_credentials(venue, account, env, secrets),
        backoff=backoff,
        options=dict(options),
        **tunables,
    )


def parse_ingest_config(
    data: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    source: str = "<memory>",
) -> IngestConfig:
    """Build an `IngestConfig` from decoded file content (see the module docstring)."""
    env = os.environ if env is None else env
    unknown = sorted(set(data) - {"secrets_file", "defaults", "ingestors", "queue_size"})
    if unknown:
        raise ConfigError(f"{source}: {unknown[0]}", data[unknown[0]], "unknown setting")
    secrets: dict[tuple[str, str], Credentials] = {}
    secrets_path = env.get(ENV_INGEST_SECRETS) or data.get("secrets_file")
    if secrets_path:
        path = Path(_text(f"{source}: secrets_file", secrets_path)).expanduser()
        if not path.is_absolute() and base_dir is not None and not env.get(ENV_INGEST_SECRETS):
            path = base_dir / path
        secrets = load_secrets_file(path)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict) or set(defaults) - set(_TUNABLES):
        bad = sorted(set(defaults) - set(_TUNABLES)) if isinstance(defaults, dict) else defaults
        raise ConfigError(f"{source}: defaults", bad, f"known: {', '.join(_TUNABLES)}")
    entries = data.get("ingestors")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: ingestors", entries, "expected a non-empty list")
    accounts = tuple(
        _entry(f"{source}: ingestors[{i}]", raw, defaults, env, secrets)
        for i, raw in enumerate(entries)
    )
    seen: set[tuple[str, str]] = set()
    for account in accounts:
        if (account.venue, account.account) in seen:
            raise ConfigError(f"{source}: ingestors", account.name, "listed twice")
        seen.add((account.venue, account.account))
    queue_size = int(_number(f"{source}: queue_size", data.get("queue_size", 10_000)))
    return IngestConfig(accounts, queue_size=queue_size, source=source)


def load_ingest_config(path: Path | str, env: Mapping[str, str] | None = None) -> IngestConfig:
    """Read a TOML (`.toml`) or JSON file and build the `IngestConfig`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(ENV_INGEST_CONFIG, str(path), f"cannot read ({exc.strerror})") from exc
    try:
        data = tomllib.loads(raw.decode()) if path.suffix.lower() == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(ENV_INGEST_CONFIG, str(path), f"not valid TOML/JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(ENV_INGEST_CONFIG, str(path), "expected a table/object at the top")
    return parse_ingest_config(data, env, base_dir=path.parent, source=str(path))
