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
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.envelope import VENUES
from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

ENV_INGEST_CONFIG = "PIPELINE_INGEST_CONFIG"
ENV_INGEST_SECRETS = "PIPELINE_INGEST_SECRETS"
MASK = "***"

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
SIMULATOR_PIN = "000000"  # the simulated SSI AccessToken accepts any non-empty PIN
_SECRET_NAMES = frozenset(
    {"api_key", "secret_key", "secret", "apikey", "password", "token", "private_key", "pin"}
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """One account's API key pair, plus what some venues need besides: SSI's RSA private key
    (PEM, signs writes) and PIN (its AccessToken `code`). No part appears in a repr or str."""

    api_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    private_key: str | None = field(default=None, repr=False)
    pin: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={MASK}" for name in ("private_key", "pin") if getattr(self, name)
        )
        return f"Credentials(api_key={MASK}, secret_key={MASK}{extra})"

    __str__ = __repr__


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


def credential_env_names(venue: str, account: str) -> tuple[str, str]:
    """(`PIPELINE_<VENUE>_<ACCOUNT>_API_KEY`, `..._SECRET_KEY`), upper case, `_` for others."""
    stem = "_".join(re.sub(r"[^A-Z0-9]", "_", part.upper()) for part in (venue, account))
    return f"PIPELINE_{stem}_API_KEY", f"PIPELINE_{stem}_SECRET_KEY"


def extra_credential_env_names(venue: str, account: str) -> tuple[str, str]:
    """(`PIPELINE_<VENUE>_<ACCOUNT>_PRIVATE_KEY`, `..._PIN`): optional, SSI uses them."""
    stem = credential_env_names(venue, account)[0].removesuffix("_API_KEY")
    return f"{stem}_PRIVATE_KEY", f"{stem}_PIN"


def load_secrets_file(path: Path) -> dict[tuple[str, str], Credentials]:
    """(venue, account) -> keys from `{venue: [{account, api_key, secret_key, private_key?,
    pin?}]}` (`private_key`: SSI's RSA key as PEM; `pin`: its two-factor code)."""
    setting = f"secrets file {path}"
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(ENV_INGEST_SECRETS, str(path), "file not found") from exc
    except (OSError, ValueError) as exc:
        # never echo the content: it is secret
        raise ConfigError(ENV_INGEST_SECRETS, str(path), "not a readable JSON file") from exc
    if os.name == "posix" and path.stat().st_mode & 0o077:
        log.warning("%s is readable by group or others; chmod 600 it", setting)
    if not isinstance(data, dict):
        raise ConfigError(ENV_INGEST_SECRETS, str(path), "expected {venue: [{account, ...}]}")
    found: dict[tuple[str, str], Credentials] = {}
    for venue, entries in data.items():
        if not isinstance(entries, list):
            raise ConfigError(ENV_INGEST_SECRETS, str(path), f"{venue!r}: expected a list")
        for number, entry in enumerate(entries):
            ok = isinstance(entry, dict) and all(
                isinstance(entry.get(k), str) and entry.get(k)
                for k in ("account", "api_key", "secret_key")
            )
            if not ok:
                raise ConfigError(
                    ENV_INGEST_SECRETS,
                    str(path),
                    f"{venue}[{number}]: needs non-empty account, api_key and secret_key",
                )
            extras = {name: entry.get(name) for name in ("private_key", "pin")}
            for name, value in extras.items():
                if value is not None and not (isinstance(value, str) and value):
                    raise ConfigError(
                        ENV_INGEST_SECRETS, str(path), f"{venue}[{number}]: {name} must be a "
                        "non-empty string when present"
                    )  # fmt: skip
            found[(venue, entry["account"])] = Credentials(
                entry["api_key"], entry["secret_key"], extras["private_key"], extras["pin"]
            )
    return found


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


WIRE_FORMATS: dict[str, tuple[str, str]] = {
    "upbit": ("DEFAULT", "SIMPLE"),
    "coinone": ("DEFAULT", "SHORT"),
}
"""The two WebSocket spellings of the venues that have two: (default long keys, short keys)."""


def simulator_config(
    simulator: Any,
    accounts: Sequence[str] | None = None,
    venues: Sequence[str] | None = None,
    wire_formats: str = "mixed",
    **tunables: Any,
) -> IngestConfig:
    """An `IngestConfig` for a running `pipeline.sim.Simulator` (tests, demos): its endpoints,
    every instrument as a symbol and the keys it generated (handed over in memory). `venues`
    defaults to the simulated venues that have an ingestor.

    `wire_formats` picks the WebSocket spelling each Upbit and Coinone account subscribes
    with (`WIRE_FORMATS`), so a run exercises what the real venues send: `mixed` (the
    default) alternates the venue's default long-key format and its short one account by
    account, so every run sees both; `default` or `short` asks every account for one."""
    if wire_formats not in ("mixed", "default", "short"):
        raise ConfigError("wire_formats", wire_formats, "expected mixed, default or short")
    from pipeline.ingest.service import INGESTORS

    wanted = tuple(INGESTORS) if venues is None else tuple(venues)
    entries: list[AccountConfig] = []
    for venue, endpoints in simulator.endpoints().items():
        if venue not in wanted:
            continue
        symbols = tuple(simulator.exchanges[venue].instruments)
        ws_url = endpoints.get("ws") or endpoints.get("ws_api") or endpoints.get("stream")
        base_url = endpoints.get("rest") or simulator.base_url(venue)
        for index, credential in enumerate(simulator.credentials(venue)):
            if accounts is not None and credential.account not in accounts:
                continue
            account_tunables = dict(tunables)
            if venue in WIRE_FORMATS:
                short = wire_formats == "short" or (wire_formats == "mixed" and index % 2 == 1)
                account_tunables["options"] = {
                    **tunables.get("options", {}),
                    "format": WIRE_FORMATS[venue][1 if short else 0],
                }
            entries.append(
                AccountConfig(
                    venue=venue,
                    account=credential.account,
                    base_url=base_url,
                    ws_url=ws_url,
                    symbols=symbols,
                    credentials=Credentials(
                        credential.key,
                        credential.secret,
                        getattr(credential, "private_key", None) or None,
                        SIMULATOR_PIN if venue == "ssi" else None,
                    ),
                    **account_tunables,
                )
            )
    return IngestConfig(tuple(entries), source="simulator")
