"""Fixtures of the operations tests: a chDB store populated from the recorded venue payloads
(through replay), with a cancel command and its result."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scenario_data import POISON, scenario_envelopes
from stream_helpers import TEST_PROCESSING

from pipeline.config import ClickHouseTarget
from pipeline.sink.migrations import migrate
from pipeline.sink.store import Store, open_store
from pipeline.streams.replay import replay_file


@pytest.fixture(scope="module")
def populated(chdb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(
        ClickHouseTarget(scheme="chdb", path=chdb_path, database=f"t_{uuid.uuid4().hex[:12]}")
    )
    migrate(store)
    path = tmp_path_factory.mktemp("raw") / "raw.jsonl"
    with path.open("wb") as handle:
        for _key, envelope in scenario_envelopes():
            handle.write(envelope.encode() + b"\n")
        for _key, value, _reason in POISON:
            handle.write(value + b"\n")
    replay_file(path, store, TEST_PROCESSING)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    store.insert(
        "cancel_commands",
        [["c-1", "binance", "desk-1", "ETH/USDC", None, None, "ops", now, now, 1, None]],
        ["command_id", "venue", "account", "symbol", "order_id", "qty", "issued_by",
         "issued_at", "received_at", "accepted", "reject_reason"],
    )  # fmt: skip
    store.insert(
        "command_results",
        [["c-1", "binance", "desk-1", "completed", 1, None, "[]", 2, 2, now, now, 3]],
        ["command_id", "venue", "account", "status", "final", "reason", "outcomes",
         "orders_targeted", "orders_canceled", "started_at", "finished_at", "version"],
    )  # fmt: skip
    yield store
    store.command(f"DROP DATABASE IF EXISTS {store.database}")
