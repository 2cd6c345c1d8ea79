"""Every time-filtered ClickHouse panel of the dashboards shows rows for the last 1 h, 6 h,
24 h and 7 d when the store has rows in that range (issue 16 item 2: panels over `Date`
columns filtered with `$__timeFilter(day)` kept nothing for ranges shorter than a day).

The range ends a minute after the newest fill of the replayed scenario; a canceled order, a
dead letter and a cancel result are added at that moment, so every panel's table has a row in
every range. The macros are expanded as the Grafana ClickHouse plugin expands them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from test_analyst_sql import clickhouse_panels, expand_macros

from pipeline.sink.store import Store

RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24),
          "7d": timedelta(days=7)}  # fmt: skip


@pytest.fixture(scope="module")
def anchored(populated: Store) -> Iterator[tuple[Store, datetime]]:
    db = populated.database
    newest = populated.query(f"SELECT max(trade_time) FROM {db}.fills FINAL").rows[0][0]
    at = f"toDateTime64('{newest:%Y-%m-%d %H:%M:%S}', 3, 'UTC')"
    populated.command(
        f"INSERT INTO {db}.orders SELECT * REPLACE ('canceled' AS status, 'range-probe' AS "
        f"order_id, {at} AS updated_at, {at} AS created_at) FROM {db}.orders FINAL LIMIT 1"
    )
    populated.command(
        f"INSERT INTO {db}.dead_letters SELECT * REPLACE ({at} AS failed_at, "
        f"source_offset + 1000000 AS source_offset) FROM {db}.dead_letters FINAL LIMIT 1"
    )
    populated.command(
        f"INSERT INTO {db}.command_results SELECT * REPLACE ('range-probe' AS command_id, "
        f"{at} AS finished_at) FROM {db}.command_results FINAL LIMIT 1"
    )
    return populated, newest + timedelta(minutes=1)


def _timed_panels() -> list[tuple[str, str]]:
    return [(title, sql) for title, sql in clickhouse_panels() if "$__" in sql]


@pytest.mark.parametrize("span", list(RANGES), ids=list(RANGES))
@pytest.mark.parametrize(("panel", "sql"), _timed_panels(), ids=lambda v: v[:50])
def test_time_filtered_panel_shows_rows_for_each_range(
    anchored: tuple[Store, datetime], panel: str, sql: str, span: str
) -> None:
    store, end = anchored
    start = end - RANGES[span]
    query = expand_macros(sql, start, end, interval_s=60).replace("trading.", f"{store.database}.")
    assert store.query(query).rows, f"{panel} is blank for the last {span}"


def test_no_panel_filters_a_date_column_as_a_time() -> None:
    for panel, sql in clickhouse_panels():
        assert "$__timeFilter(day)" not in sql, panel
