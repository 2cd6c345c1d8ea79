"""Migrations apply to chDB, are idempotent, and the tables deduplicate retried batches."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pipeline.errors import StoreError
from pipeline.sink.migrations import Migration, load_migrations, migrate
from pipeline.sink.store import Store

EXPECTED_TABLES = {
    "orders",
    "order_events",
    "fills",
    "positions",
    "cancel_commands",
    "command_results",
    "dead_letters",
    "open_orders",
    "daily_pnl",
    "execution_quality",
    "dead_letters_by_reason",
    "fills_daily",
    "realized_pnl_daily",
    "schema_migrations",
}


def _schema(store: Store) -> dict[str, str]:
    tables = store.query(f"SHOW TABLES FROM {store.database}").rows
    return {
        name: store.query(f"SHOW CREATE TABLE {store.database}.{name}").rows[0][0]
        for (name,) in tables
    }


def test_migrate_twice_applies_nothing_the_second_time(store_factory) -> None:
    store = store_factory(migrated=False)
    first = migrate(store)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    before = _schema(store)
    assert set(before) == EXPECTED_TABLES

    second = migrate(store)

    assert second == []
    assert _schema(store) == before
    recorded = store.query(f"SELECT count() FROM {store.database}.schema_migrations").rows
    assert recorded == [(len(first),)]


def test_migrate_refuses_a_migration_edited_after_it_was_applied(store: Store) -> None:
    edited = [*load_migrations()]
    edited[0] = Migration(edited[0].version, edited[0].name, edited[0].sql + "\n-- edited\n")
    with pytest.raises(StoreError, match="changed after it was applied"):
        migrate(store, edited)


def test_core_columns_use_decimal_utc_time_and_low_cardinality(store: Store) -> None:
    columns = dict(
        store.query(
            "SELECT name, type FROM system.columns "
            f"WHERE database = '{store.database}' AND table = 'orders'"
        ).rows
    )
    assert columns["qty"] == "Decimal(38, 18)"
    assert columns["filled_qty"] == "Decimal(38, 18)"
    assert columns["updated_at"] == "DateTime64(3, 'UTC')"
    assert columns["venue"] == "LowCardinality(String)"
    assert columns["status"] == "LowCardinality(String)"


def test_retried_batch_with_same_dedup_token_is_stored_once(store: Store) -> None:
    row = [
        "upbit",
        "desk-1",
        "BTC/KRW",
        Decimal("0.000000000000000001"),
        Decimal("100"),
        Decimal("0"),
        {},
        1,
        datetime(2024, 3, 11, tzinfo=UTC),
        1,
    ]
    columns = [
        "venue",
        "account",
        "symbol",
        "qty",
        "avg_price",
        "realized_pnl",
        "fees",
        "fill_count",
        "updated_at",
        "version",
    ]
    for _ in range(3):
        store.insert("positions", [row], columns, dedup_token="raw.upbit:0:10-20")
    rows = store.query(f"SELECT qty FROM {store.database}.positions").rows
    assert rows == [(Decimal("0.000000000000000001"),)]


def test_replacing_table_keeps_highest_version_under_final(store: Store) -> None:
    columns = [
        "venue",
        "account",
        "symbol",
        "qty",
        "avg_price",
        "realized_pnl",
        "fees",
        "fill_count",
        "updated_at",
        "version",
    ]
    base = ["binance", "a", "BTC/USDT"]
    when = datetime(2024, 3, 11, tzinfo=UTC)
    store.insert("positions", [[*base, Decimal(2), Decimal(10), 0, {}, 2, when, 2]], columns)
    store.insert("positions", [[*base, Decimal(1), Decimal(10), 0, {}, 1, when, 1]], columns)
    rows = store.query(f"SELECT qty, version FROM {store.database}.positions FINAL").rows
    assert rows == [(Decimal(2), 2)]
