"""The cluster form of the migrations (PIPELINE_CLICKHOUSE_CLUSTER): every statement parses
(ClickHouse's own parser, through chDB's formatQuery) and has the replicated shape."""

from __future__ import annotations

import pytest

from pipeline.errors import StoreError
from pipeline.sink.migrations import cluster_statements, load_migrations
from pipeline.sink.store import Store


def _all_cluster_statements() -> list[str]:
    out = []
    for migration in load_migrations():
        out += cluster_statements(migration.statements("trading"), "pipeline")
    return out


def test_every_cluster_statement_parses(store: Store) -> None:
    statements = _all_cluster_statements()
    assert statements
    for statement in statements:
        formatted = store.query("SELECT formatQuery({sql:String})", {"sql": statement}).rows
        assert "ON CLUSTER pipeline" in formatted[0][0], statement[:80]


def test_tables_become_replicated_locals_behind_distributed_tables() -> None:
    statements = _all_cluster_statements()
    single = [s for m in load_migrations() for s in m.statements("trading")]
    tables = [s for s in single if s.startswith("CREATE TABLE")]
    locals_ = [s for s in statements if "_local ON CLUSTER" in s and "ENGINE = Replicated" in s]
    distributed = [s for s in statements if "ENGINE = Distributed(pipeline, trading," in s]
    assert len(locals_) == len(distributed) == len(tables)
    orders = next(s for s in distributed if "trading.orders ON CLUSTER" in s)
    assert "sipHash64(venue, account, order_id)" in orders  # one key, one shard: FINAL holds
    assert all("'{replica}'" in s for s in locals_)
    assert any("ReplicatedReplacingMergeTree(" in s and "version)" in s for s in locals_)


def test_a_bad_cluster_name_is_refused() -> None:
    with pytest.raises(StoreError, match="not a cluster name"):
        cluster_statements(["CREATE DATABASE IF NOT EXISTS trading"], "x; DROP")


def test_an_added_column_is_altered_on_the_local_table_then_the_distributed_one(
    store: Store,
) -> None:
    """0007 adds a column to orders: on a cluster both `orders_local` (the data) and the
    Distributed `orders` over it must get it, in that order, each ON CLUSTER."""
    (migration,) = [m for m in load_migrations() if m.name == "orders_avg_fill_price_source"]
    statements = cluster_statements(migration.statements("trading"), "pipeline")
    assert [s.split(" ADD COLUMN")[0] for s in statements] == [
        "ALTER TABLE trading.orders_local ON CLUSTER pipeline",
        "ALTER TABLE trading.orders ON CLUSTER pipeline",
    ]
    for statement in statements:
        formatted = store.query("SELECT formatQuery({sql:String})", {"sql": statement}).rows[0][0]
        assert "ADD COLUMN IF NOT EXISTS `avg_fill_price_source`" in formatted
        assert "AFTER avg_fill_price" in formatted


def test_an_alter_the_cluster_form_does_not_know_is_refused() -> None:
    with pytest.raises(StoreError, match="no cluster form"):
        cluster_statements(["ALTER TABLE trading.orders DELETE WHERE 1"], "pipeline")
