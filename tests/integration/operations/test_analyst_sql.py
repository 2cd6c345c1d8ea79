"""The analyst views, the SQL cookbook and every ClickHouse panel of the Grafana dashboards,
run against a chDB store populated from the recorded venue payloads (through replay)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.sink.store import Store

ROOT = Path(__file__).resolve().parents[3]
COOKBOOK = ROOT / "docs" / "sql-cookbook.md"
DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"
WIDE_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _in_database(sql: str, store: Store) -> str:
    return re.sub(r"\btrading\.", f"{store.database}.", sql)


def expand_macros(sql: str, start: datetime, end: datetime, interval_s: int = 3600) -> str:
    """A panel's SQL with the Grafana ClickHouse plugin's macros expanded as the plugin does
    for the time range [start, end] (grafana-clickhouse-datasource, `macros.go`)."""
    from_s, to_s = int(start.timestamp()), int(end.timestamp())
    macros = {
        "timeFilter": lambda c: f"{c} >= toDateTime({from_s}) AND {c} <= toDateTime({to_s})",
        "timeFilter_ms": lambda c: (
            f"{c} >= fromUnixTimestamp64Milli({from_s * 1000}) AND "
            f"{c} <= fromUnixTimestamp64Milli({to_s * 1000})"
        ),
        "dateFilter": lambda c: (
            f"{c} >= toDate('{start.date().isoformat()}') AND "
            f"{c} <= toDate('{end.date().isoformat()}')"
        ),
        "timeInterval": lambda c: (
            f"toStartOfInterval(toDateTime({c}), INTERVAL {interval_s} second)"
        ),
    }
    sql = re.sub(
        r"\$__(timeFilter_ms|timeFilter|dateFilter|timeInterval)\(([^)]+)\)",
        lambda m: "(" + macros[m[1]](m[2].strip()) + ")",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({from_s})").replace(
        "$__toTime", f"toDateTime({to_s})"
    )
    assert "$" not in sql, f"an unexpanded macro in {sql}"
    return sql


def grafana_sql(sql: str, store: Store) -> str:
    """A panel's SQL with the macros expanded for a range that holds every row."""
    return _in_database(expand_macros(sql, *WIDE_RANGE), store)


def cookbook_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", COOKBOOK.read_text(), re.DOTALL)


def clickhouse_panels() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") == "grafana-clickhouse-datasource":
                    found.append((f"{path.stem}: {panel['title']}", target["rawSql"]))
    return found


def test_realized_pnl_daily_sums_to_the_positions_realized_pnl(populated: Store) -> None:
    db = populated.database
    daily = populated.query(
        f"SELECT venue, account, symbol, sum(realized_pnl) FROM {db}.realized_pnl_daily "
        "GROUP BY venue, account, symbol"
    ).rows
    positions = populated.query(
        f"SELECT venue, account, symbol, realized_pnl FROM {db}.positions FINAL"
    ).rows
    by_key = {(v, a, s): pnl for v, a, s, pnl in positions}
    assert {(v, a, s) for v, a, s, _ in daily} == set(by_key)
    assert any(pnl != 0 for pnl in by_key.values())  # the scenario realizes something
    for venue, account, symbol, pnl in daily:
        assert abs(pnl - by_key[(venue, account, symbol)]) < Decimal("1e-9"), (venue, symbol)


def test_fee_totals_per_asset_match_the_positions(populated: Store) -> None:
    db = populated.database
    daily = populated.query(
        f"SELECT venue, account, symbol, sumMap(fees) FROM {db}.realized_pnl_daily "
        "GROUP BY venue, account, symbol"
    ).rows
    positions = populated.query(
        f"SELECT venue, account, symbol, fees FROM {db}.positions FINAL"
    ).rows
    by_key = {(v, a, s): fees for v, a, s, fees in positions}
    for venue, account, symbol, fees in daily:
        nonzero = {asset: fee for asset, fee in fees.items() if fee != 0}
        assert nonzero == by_key[(venue, account, symbol)], (venue, account, symbol)


def test_execution_quality_rates_and_fill_latency(populated: Store) -> None:
    rows = populated.query(
        "SELECT venue, symbol, orders, filled, canceled, fill_rate, cancel_rate, "
        f"orders_with_fills, avg_fill_latency_seconds FROM {populated.database}.execution_quality"
    ).rows
    assert rows
    for _venue, _symbol, orders, filled, canceled, fill_rate, cancel_rate, with_fills, lat in rows:
        assert fill_rate == pytest.approx(filled / orders, abs=1e-6)
        assert cancel_rate == pytest.approx(canceled / orders, abs=1e-6)
        assert (lat is None) == (with_fills == 0)
        assert lat is None or lat >= 0
    fills = populated.query(
        f"SELECT uniqExact(venue, account, order_id) FROM {populated.database}.fills FINAL "
        "WHERE qty > 0"
    ).rows[0][0]
    assert sum(r[7] for r in rows) == fills


def test_fills_daily_excludes_voids(populated: Store) -> None:
    db = populated.database
    total = populated.query(f"SELECT sum(fills) FROM {db}.fills_daily").rows[0][0]
    assert (
        total == populated.query(f"SELECT count() FROM {db}.fills FINAL WHERE qty > 0").rows[0][0]
    )
    assert populated.query(f"SELECT count() FROM {db}.fills FINAL WHERE qty = 0").rows[0][0] > 0


@pytest.mark.parametrize("sql", cookbook_queries(), ids=lambda s: s.split("FROM")[1][:40])
def test_cookbook_query_runs_and_returns_rows(populated: Store, sql: str) -> None:
    assert populated.query(_in_database(sql, populated)).rows


@pytest.mark.parametrize(("panel", "sql"), clickhouse_panels(), ids=lambda v: v[:50])
def test_grafana_clickhouse_panel_query_runs_and_returns_rows(
    populated: Store, panel: str, sql: str
) -> None:
    assert re.search(r"\btrading\.", sql), f"{panel}: query the trading database by name"
    assert populated.query(grafana_sql(sql, populated)).rows, panel


def test_cookbook_and_dashboards_have_queries() -> None:
    assert len(cookbook_queries()) >= 10
    assert len(clickhouse_panels()) >= 10
