"""Migrations apply to chDB, are idempotent, and the tables deduplicate retried batches."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from pipeline.errors import StoreError
from pipeline.sink.migrations import Migration, load_migrations, migrate
from pipeline.sink.rows import ORDER_COLUMNS, order_row
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


def _order_record(order_id: str, **changes: object) -> dict:
    """An orders.state record as the processor writes it (codec dict)."""
    record = {
        "venue": "binance", "account": "main", "order_id": order_id, "symbol": "ETH/BTC",
        "venue_symbol": "ETHBTC", "side": "buy", "order_type": "limit", "status": "filled",
        "venue_status": "FILLED", "cancel_reason": None, "qty": "1", "price": "0.1026441",
        "stop_price": None, "quote_qty": None, "filled_qty": "1", "remaining_qty": "0",
        "canceled_qty": "0", "avg_fill_price": "0.102644093", "avg_fill_price_source": "fills",
        "fee": "0", "fee_asset": None, "client_order_id": None, "time_in_force": "GTC",
        "created_at": 1_700_000_000_000, "updated_at": 1_700_000_000_001, "version": 3,
        "last_event_id": "e",
    }  # fmt: skip
    record.update(changes)
    return record


def test_avg_source_column_added_to_a_store_holding_rows_without_it(store_factory) -> None:
    """0007 adds `orders.avg_fill_price_source` to a store migrated before it existed: the
    rows already there read NULL, both insert paths write it, and a record from before the
    field existed (no key) is stored with NULL rather than refused."""
    store = store_factory(migrated=False)
    earlier = [m for m in load_migrations() if m.name != "orders_avg_fill_price_source"]
    assert len(earlier) == len(load_migrations()) - 1
    migrate(store, earlier)
    old = _order_record("old")
    del old["avg_fill_price_source"]
    at = ORDER_COLUMNS.index("avg_fill_price_source")
    columns_then = ORDER_COLUMNS[:at] + ORDER_COLUMNS[at + 1 :]
    row_then = order_row(old)
    store.insert("orders", [row_then[:at] + row_then[at + 1 :]], list(columns_then))

    applied = migrate(store)

    assert [m.name for m in applied] == ["orders_avg_fill_price_source"]
    store.insert_json("orders", orjson.dumps(_order_record("json", avg_fill_price_source="venue")))
    store.insert_json("orders", orjson.dumps(old | {"order_id": "json-old"}))
    rows_path = [_order_record("rows"), old | {"order_id": "rows-old"}]
    store.insert("orders", [order_row(r) for r in rows_path], list(ORDER_COLUMNS))
    got = store.query(
        f"SELECT order_id, avg_fill_price, avg_fill_price_source FROM {store.database}.orders "
        "FINAL ORDER BY order_id"
    ).rows
    vwap = Decimal("0.102644093")
    assert got == [
        ("json", vwap, "venue"),
        ("json-old", vwap, None),
        ("old", vwap, None),
        ("rows", vwap, "fills"),
        ("rows-old", vwap, None),
    ]
    layout = [row[0] for row in store.query(f"DESCRIBE TABLE {store.database}.orders").rows]
    assert layout.index("avg_fill_price_source") == layout.index("avg_fill_price") + 1
    assert migrate(store) == []
