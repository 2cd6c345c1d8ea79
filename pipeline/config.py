"""Typed, frozen configuration built once at the edge (CLI) and passed down.

Sources, lowest precedence first: defaults, the environment (`PIPELINE_*`), CLI flags. A value
we cannot use raises `ConfigError` naming the setting and the (masked) value; the CLI turns it
into one line on stderr and exit code 2. Secrets (the ClickHouse password) are masked in every
repr and message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.errors import ConfigError

ENV_KAFKA = "PIPELINE_KAFKA_BOOTSTRAP"
ENV_CLICKHOUSE = "PIPELINE_CLICKHOUSE_URL"
ENV_DATA_DIR = "PIPELINE_DATA_DIR"
ENV_PARTITIONS = "PIPELINE_TOPIC_PARTITIONS"
ENV_REPLICATION = "PIPELINE_TOPIC_REPLICATION"
ENV_CONNECT_TIMEOUT = "PIPELINE_CONNECT_TIMEOUT"
ENV_SESSION_TIMEOUT = "PIPELINE_BROKER_SESSION_TIMEOUT"
ENV_REBALANCE_TIMEOUT = "PIPELINE_BROKER_REBALANCE_TIMEOUT"
ENV_HEARTBEAT = "PIPELINE_BROKER_HEARTBEAT_INTERVAL"
ENV_LOG_LEVEL = "PIPELINE_LOG_LEVEL"
ENV_LATENESS = "PIPELINE_LATENESS_MS"
ENV_RETENTION = "PIPELINE_ORDER_RETENTION_HOURS"
ENV_CLUSTER = "PIPELINE_CLICKHOUSE_CLUSTER"
ENV_CHECKPOINTS = "PIPELINE_CHECKPOINTS"
ENV_CHECKPOINT_INTERVAL = "PIPELINE_CHECKPOINT_INTERVAL"
ENV_CHECKPOINT_RECORDS = "PIPELINE_CHECKPOINT_RECORDS"
CHECKPOINT_STORES = ("file", "topic", "off")

MASK = "***"


@dataclass(frozen=True, slots=True)
class ClickHouseTarget:
    """Where the store is: a ClickHouse server over HTTP(S), or an embedded chDB directory."""

    scheme: str  # "http", "https" or "chdb"
    database: str = "trading"
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = field(default="", repr=False)
    path: Path | None = None  # chdb only

    @property
    def is_embedded(self) -> bool:
        return self.scheme == "chdb"

    @property
    def masked_url(self) -> str:
        """The URL with the password replaced by `***`: safe for logs and errors."""
        if self.is_embedded:
            suffix = "" if self.database == "trading" else f"?database={self.database}"
            return f"chdb://{self.path}{suffix}"
        auth = f"{self.username}:{MASK}@" if self.password else f"{self.username}@"
        return f"{self.scheme}://{auth}{self.host}:{self.port}/{self.database}"

    def __repr__(self) -> str:
        return f"ClickHouseTarget({self.masked_url})"


def mask_url(url: str) -> str:
    """Hide the password of any `scheme://user:pass@host` URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return parts._replace(netloc=netloc).geturl()


def parse_clickhouse_url(url: str, setting: str = ENV_CLICKHOUSE) -> ClickHouseTarget:
    """Parse `http(s)://user:pass@host:port/database` or `chdb:///absolute/path`."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(setting, shown, f"not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme == "chdb":
        raw_path = unquote(parts.netloc + parts.path)
        if not raw_path or raw_path == "/":
            raise ConfigError(setting, shown, "a chdb URL needs a directory: chdb:///path/to/dir")
        database = parse_qs(parts.query).get("database", ["trading"])[0]
        _check_database(setting, shown, database)
        return ClickHouseTarget(
            scheme="chdb", path=Path(raw_path).expanduser().resolve(), database=database
        )
    if scheme not in ("http", "https"):
        raise ConfigError(
            setting, shown, f"unknown scheme {parts.scheme!r}; use http, https or chdb"
        )
    if not parts.hostname:
        raise ConfigError(setting, shown, "the URL has no host")
    database = parts.path.strip("/") or "trading"
    _check_database(setting, shown, database)
    return ClickHouseTarget(
        scheme=scheme,
        host=parts.hostname,
        port=port or (8443 if scheme == "https" else 8123),
        username=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        database=database,
    )


def _check_database(setting: str, shown: str, database: str) -> None:
    if not database.replace("_", "").isalnum() or database[0].isdigit():
        raise ConfigError(setting, shown, f"{database!r} is not a plain database name")


def parse_bootstrap(value: str, setting: str = ENV_KAFKA) -> str:
    """Validate a comma-separated `host:port` list; returns it normalised."""
    servers = [s.strip() for s in value.split(",") if s.strip()]
    if not servers:
        raise ConfigError(setting, value, "expected host:port[,host:port...]")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(setting, value, f"{server!r} is not host:port")
    return ",".join(servers)


def _number(
    env: Mapping[str, str], name: str, default: float, *, integer: bool, allow_zero: bool = False
) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError as exc:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(name, raw, f"expected {kind}") from exc
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(name, raw, "must be greater than zero")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a pipeline process needs to know about its surroundings.

    `kafka_bootstrap` None means "the embedded broker" (found through the stack state file or
    started by `pipeline run`); `clickhouse` None means "the embedded chDB store under
    `data_dir`".
    """

    kafka_bootstrap: str | None = None
    clickhouse: ClickHouseTarget | None = None
    data_dir: Path = Path("data")
    partitions: int = 4
    replication_factor: int = 1
    connect_timeout: float = 15.0
    broker_session_timeout: float = 10.0
    broker_rebalance_timeout: float = 10.0
    broker_heartbeat_interval: float = 1.0
    log_level: str = "INFO"
    lateness_ms: int = 5_000
    order_retention_hours: float = 24.0
    clickhouse_cluster: str | None = None  # `pipeline migrate` writes cluster DDL when set
    # where processing checkpoints live: "file" (<data dir>/checkpoints), "topic" (the
    # compacted pipeline.checkpoints topic) or "off"; None: "file" on the embedded broker,
    # "topic" on a configured cluster (partitions may move to another host)
    checkpoints: str | None = None
    checkpoint_interval_s: float = 10.0
    checkpoint_records: int = 100_000

    @property
    def checkpoint_store(self) -> str:
        """The checkpoint store in force (`checkpoints`, or its default)."""
        if self.checkpoints is not None:
            return self.checkpoints
        return "topic" if self.kafka_bootstrap else "file"

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def embedded_store_path(self) -> Path:
        return (self.data_dir / "store").resolve()

    @property
    def store(self) -> ClickHouseTarget:
        """The ClickHouse target, defaulting to the embedded store under the data directory."""
        if self.clickhouse is not None:
            return self.clickhouse
        return ClickHouseTarget(scheme="chdb", path=self.embedded_store_path)

    @property
    def processing(self) -> Any:
        """The per-partition processing tunables (`ProcessingSettings`)."""
        from pipeline.streams.processor import ProcessingSettings

        return ProcessingSettings(
            lateness_ms=self.lateness_ms,
            order_retention_ms=int(self.order_retention_hours * 3_600_000),
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> dict[str, str]:
        """A masked, printable view of the settings."""
        return {
            "kafka": self.kafka_bootstrap or "embedded (Tansu)",
            "clickhouse": self.store.masked_url,
            "data_dir": str(self.data_dir.resolve()),
            "partitions": str(self.partitions),
        }


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from the environment (defaults where unset)."""
    env = os.environ if env is None else env
    kafka = env.get(ENV_KAFKA) or None
    clickhouse_url = env.get(ENV_CLICKHOUSE) or None
    log_level = (env.get(ENV_LOG_LEVEL) or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(ENV_LOG_LEVEL, log_level, "expected DEBUG, INFO, WARNING or ERROR")
    return Settings(
        kafka_bootstrap=parse_bootstrap(kafka) if kafka else None,
        clickhouse=parse_clickhouse_url(clickhouse_url) if clickhouse_url else None,
        data_dir=Path(env.get(ENV_DATA_DIR) or "data"),
        partitions=_number(env, ENV_PARTITIONS, 4, integer=True),
        replication_factor=_number(env, ENV_REPLICATION, 1, integer=True),
        connect_timeout=_number(env, ENV_CONNECT_TIMEOUT, 15.0, integer=False),
        broker_session_timeout=_number(env, ENV_SESSION_TIMEOUT, 10.0, integer=False),
        broker_rebalance_timeout=_number(env, ENV_REBALANCE_TIMEOUT, 10.0, integer=False),
        broker_heartbeat_interval=_number(env, ENV_HEARTBEAT, 1.0, integer=False),
        log_level=log_level,
        lateness_ms=_number(env, ENV_LATENESS, 5_000, integer=True, allow_zero=True),
        order_retention_hours=_number(env, ENV_RETENTION, 24.0, integer=False),
        clickhouse_cluster=_cluster(env.get(ENV_CLUSTER) or None),
        checkpoints=_checkpoints(env.get(ENV_CHECKPOINTS) or None),
        checkpoint_interval_s=_number(env, ENV_CHECKPOINT_INTERVAL, 10.0, integer=False),
        checkpoint_records=_number(env, ENV_CHECKPOINT_RECORDS, 100_000, integer=True),
    )


def _checkpoints(value: str | None) -> str | None:
    if value is not None and value not in CHECKPOINT_STORES:
        raise ConfigError(ENV_CHECKPOINTS, value, f"expected one of {', '.join(CHECKPOINT_STORES)}")
    return value


def _cluster(name: str | None) -> str | None:
    """A ClickHouse cluster name as `ON CLUSTER` takes it unquoted (letters, digits, `_`)."""
    if name is not None and not re.fullmatch(r"\w+", name):
        raise ConfigError(ENV_CLUSTER, name, "a cluster name is letters, digits and _")
    return name
