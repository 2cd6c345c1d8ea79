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
    # every pinned name is really importable (a stale `__all__` entry fails the star import)
    namespace: dict[str, object] = {}
    exec("from pipeline.ingest import *", namespace)
    assert set(ingest.__all__) <= namespace.keys()


def test_each_venue_has_its_own_ingestor_registered_under_its_id() -> None:
    assert set(ingest.INGESTORS) == {"upbit", "binance", "coinone", "ssi", "futures_gateway"}
    for venue, kind in ingest.INGESTORS.items():
        assert issubclass(kind, ingest.Ingestor)
        assert kind.venue == venue
    assert len(set(ingest.INGESTORS.values())) == len(ingest.INGESTORS)
