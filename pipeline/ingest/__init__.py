"""Venue ingestors: every venue message, unmodified, in the raw envelope on `raw.<venue>`.

`run_ingestors(config, bootstrap, stop, stats)` is the ingest role. `load_ingest_config`
reads the file that lists venues, accounts, URLs and symbols (keys come from the
environment or a secrets file). `UpbitIngestor` and `BinanceIngestor` stream over
WebSockets; `RestPoller` is the base of polled venues: `CoinoneIngestor` (REST polls plus
the MYORDER WebSocket), `SsiIngestor` (order book polls plus the notify-id stream) and
`FuturesGatewayIngestor` (open orders, order history and trades per symbol, order status).
See `pipeline/ingest/base.py` for the reconnect and gap-recovery design.
"""

from __future__ import annotations

from pipeline.ingest.base import Ingestor, LiveOrders, RestPoller, SessionError
from pipeline.ingest.binance import BinanceIngestor
from pipeline.ingest.coinone import CoinoneIngestor
from pipeline.ingest.config import (
    ENV_INGEST_CONFIG,
    ENV_INGEST_SECRETS,
    AccountConfig,
    Backoff,
    Credentials,
    IngestConfig,
    credential_env_names,
    load_ingest_config,
    parse_ingest_config,
)
from pipeline.ingest.futures_gateway import FuturesGatewayIngestor
from pipeline.ingest.publisher import RawPublisher
from pipeline.ingest.service import INGESTORS, build_ingestor, run_ingestors
from pipeline.ingest.ssi import SsiIngestor
from pipeline.ingest.stats import IngestStats, VenueStats
from pipeline.ingest.upbit import UpbitIngestor

__all__ = [
    "ENV_INGEST_CONFIG",
    "ENV_INGEST_SECRETS",
    "INGESTORS",
    "AccountConfig",
    "Backoff",
    "BinanceIngestor",
    "CoinoneIngestor",
    "Credentials",
    "FuturesGatewayIngestor",
    "IngestConfig",
    "IngestStats",
    "Ingestor",
    "LiveOrders",
    "RawPublisher",
    "RestPoller",
    "SessionError",
    "SsiIngestor",
    "UpbitIngestor",
    "VenueStats",
    "build_ingestor",
    "credential_env_names",
    "load_ingest_config",
    "parse_ingest_config",
    "run_ingestors",
]
