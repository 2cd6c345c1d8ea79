"""The public names of `pipeline.ingest` (changing them is a breaking change)."""

from __future__ import annotations

import pipeline.ingest as ingest


def test_public_names_are_pinned() -> None:
    assert sorted(ingest.__all__) == sorted(
        [
            "ENV_INGEST_CONFIG", "ENV_INGEST_SECRETS", "INGESTORS", "AccountConfig", "Backoff",
            "BinanceIngestor", "CoinoneIngestor", "Credentials", "FuturesGatewayIngestor",
            "IngestConfig", "IngestStats", "Ingestor",
            "LiveOrders", "RawPublisher", "RestPoller", "SessionError", "SsiIngestor",
            "UpbitIngestor",
            "VenueStats", "build_ingestor", "credential_env_names", "load_ingest_config",
            "parse_ingest_config", "run_ingestors",
        ]
    )  # fmt: skip
    for name in ingest.__all__:
        assert getattr(ingest, name) is not None
    assert set(ingest.INGESTORS) == {"upbit", "binance", "coinone", "ssi", "futures_gateway"}
