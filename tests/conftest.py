"""Session-wide fixtures: one real Tansu broker and one chDB engine for the whole run.

chDB allows one engine path per process, so every test shares one store directory and gets
its own database instead (`store` fixture). Kafka tests get fresh topic and group names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from pipeline.config import ClickHouseTarget
from pipeline.local.broker import TansuBroker
from pipeline.sink.migrations import migrate
from pipeline.sink.store import Store, open_store

# `make test` (and CI) draws the same examples on every run, so a landing never fails on a
# draw no earlier run made; `make fuzz` draws new random examples each time it runs.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A real embedded Tansu broker, started once per test session."""
    instance = TansuBroker(tmp_path_factory.mktemp("tansu") / "tansu.log")
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def bootstrap(broker: TansuBroker) -> str:
    return broker.bootstrap


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and database names."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def store_factory(chdb_path: Path) -> Iterator[object]:
    """Make migrated stores, each in a database of its own, on the session's chDB engine."""
    made: list[Store] = []

    def make(migrated: bool = True) -> Store:
        target = ClickHouseTarget(
            scheme="chdb", path=chdb_path, database=f"t_{uuid.uuid4().hex[:12]}"
        )
        store = open_store(target)
        if migrated:
            migrate(store)
        made.append(store)
        return store

    yield make
    for store in made:
        store.command(f"DROP DATABASE IF EXISTS {store.database}")


@pytest.fixture
def store(store_factory: object) -> Store:
    """A freshly migrated database on the session's chDB engine."""
    return store_factory()  # type: ignore[operator]


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own (Tansu starts in milliseconds), so topic names can be the
    real ones without tests seeing each other's records."""
    instance = TansuBroker(tmp_path / "tansu.log")
    instance.start()
    yield instance
    instance.stop()
