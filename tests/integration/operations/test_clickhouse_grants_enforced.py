"""The least-privilege ClickHouse users (issue 15), as far as chDB can enforce them.

chDB runs as its built-in `default` user and cannot switch users, so the users themselves are
checked statically (tests/unit/operations/test_clickhouse_users.py) and here by ClickHouse's
own parser. What the sink's user must be able to do without DDL rights is enforced for real:
`allow_ddl = 0` makes ClickHouse refuse every DDL statement of the session (and cannot be
undone in it, hence a process of its own), as it refuses them to `pipeline_sink`.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.sink.store import Store

USERS_FILES = [
    Path(__file__).resolve().parents[3] / "infra" / "clickhouse" / name
    for name in ("pipeline-users.xml", "grafana-user.xml")
]


def test_every_grant_parses_with_clickhouse_s_parser(store: Store) -> None:
    queries = [q.text or "" for path in USERS_FILES for q in ET.parse(path).getroot().iter("query")]
    assert len(queries) >= 20
    for query in queries:
        # users.xml grants go to the user they are listed under: the parser wants its name
        sql = f"{query} TO pipeline_user"
        formatted = store.query("SELECT formatQuery({sql:String})", {"sql": sql}).rows[0][0]
        assert formatted.startswith("GRANT "), query
        assert formatted.endswith(" TO pipeline_user"), query


# Runs in its own process: a migrated store, then DDL forbidden for the rest of the session.
_WITHOUT_DDL = r"""
import sys, orjson
from pathlib import Path
from pipeline.config import ClickHouseTarget
from pipeline.errors import StoreError
from pipeline.sink.migrations import Migration, load_migrations, migrate
from pipeline.sink.rows import ORDER_COLUMNS, order_row
from pipeline.sink.store import open_store

path, fresh = Path(sys.argv[1]), sys.argv[2] == "fresh"
store = open_store(ClickHouseTarget(scheme="chdb", path=path, database="trading"))
if not fresh:
    migrate(store)  # as pipeline_migrate would (`pipeline migrate`, the compose init step)
store.command("SET allow_ddl = 0")  # from here on: the sink user's rights
try:
    store.command("CREATE TABLE trading.probe (a Int32) ENGINE = MergeTree ORDER BY a")
    print("DDL ALLOWED")
except StoreError:
    print("ddl refused")
try:
    print("applied at start:", len(migrate(store)))
    order = {
        "venue": "upbit", "account": "a", "order_id": "o1", "symbol": "BTC/KRW",
        "venue_symbol": "KRW-BTC", "side": "buy", "order_type": "limit", "status": "open",
        "venue_status": "wait", "cancel_reason": None, "qty": "1", "price": "1",
        "stop_price": None, "quote_qty": None, "filled_qty": "0", "remaining_qty": "1",
        "canceled_qty": "0", "avg_fill_price": None, "avg_fill_price_source": None, "fee": "0",
        "fee_asset": None, "client_order_id": None, "time_in_force": None, "created_at": 1,
        "updated_at": 1, "version": 1, "last_event_id": "e1",
    }
    store.insert_json("orders", orjson.dumps(order), dedup_token="raw.upbit:0:0-0")
    store.insert("orders", [order_row({**order, "order_id": "o2"})], list(ORDER_COLUMNS))
    print("rows:", store.query("SELECT count() FROM trading.orders").rows[0][0])
    later = Migration(9999, "later", "ALTER TABLE {database}.orders ADD COLUMN x Int32;")
    migrate(store, [*load_migrations(), later])
except StoreError as exc:
    print("error:", exc)
"""


def _without_ddl(tmp_path: Path, mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_DDL, str(tmp_path / "store"), mode],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_sink_starts_and_writes_on_a_migrated_store_without_ddl_rights(tmp_path) -> None:
    out = _without_ddl(tmp_path, "migrated")
    assert "ddl refused" in out
    assert "applied at start: 0" in out  # up to date: only a read of schema_migrations
    assert "rows: 2" in out  # both insert paths
    # a migration the store lacks: refused with what to do, not a bare ClickHouse error
    assert "migrations 9999_later are not applied" in out
    assert "run `pipeline migrate` with a user allowed DDL" in out


def test_a_store_never_migrated_says_to_run_pipeline_migrate(tmp_path) -> None:
    out = _without_ddl(tmp_path, "fresh")
    assert "applied at start" not in out
    assert "are not applied and ClickHouse user of this store may not run DDL" in out
    assert "pipeline_migrate" in out
