"""The least-privilege ClickHouse users of infra/ (issue 15) against what the code needs.

The tables and statement kinds come from the migrations themselves, so a migration that adds
a table nobody may write, or a kind of DDL the migrate user may not run, fails here before it
fails in a deployment. (tests/integration/operations/test_clickhouse_grants_enforced.py parses every
grant with ClickHouse's own parser and runs the sink's start-up without DDL rights.)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.sink.migrations import load_migrations
from pipeline.sink.rows import TABLES as SINK_TABLES

INFRA = Path(__file__).resolve().parents[3] / "infra"
USERS_FILE = INFRA / "clickhouse" / "pipeline-users.xml"
WRITERS = ("pipeline_sink", "pipeline_migrate")
#: Tables the cancel worker writes through the store it shares with the sink.
CANCEL_TABLES = ("cancel_commands", "command_results")
#: The DDL privilege each kind of migration statement needs.
STATEMENT_PRIVILEGES: list[tuple[str, tuple[str, ...]]] = [
    (r"^CREATE TABLE IF NOT EXISTS ", ("CREATE TABLE",)),
    (r"^CREATE VIEW IF NOT EXISTS ", ("CREATE VIEW",)),
    (r"^CREATE OR REPLACE VIEW ", ("CREATE VIEW", "DROP VIEW")),
    (r"^ALTER TABLE \w+\.\w+\s+ADD COLUMN ", ("ALTER ADD COLUMN",)),
    (r"^ALTER TABLE \w+\.\w+\s+MODIFY COLUMN ", ("ALTER MODIFY COLUMN",)),
    (r"^ALTER TABLE \w+\.\w+\s+COMMENT COLUMN ", ("ALTER COMMENT COLUMN",)),
]
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+)$")


def _users(path: Path = USERS_FILE) -> dict[str, dict[str, Any]]:
    root = ET.parse(path).getroot()
    profiles = {p.tag: {s.tag: s.text for s in p} for p in root.find("profiles") or []}
    users: dict[str, dict[str, Any]] = {}
    for user in root.find("users") or []:
        profile = user.findtext("profile")
        grants: list[tuple[set[str], str]] = []
        for query in user.iter("query"):
            match = _GRANT.match((query.text or "").strip())
            assert match, f"{user.tag}: not a plain GRANT: {query.text!r}"
            privileges = {p.strip() for p in match["privileges"].split(",")}
            grants.append((privileges, match["target"]))
        password = user.find("password")
        users[user.tag] = {
            "grants": grants,
            "profile": profiles.get(profile or "", {}),
            "password_env": None if password is None else password.get("from_env"),
        }
    return users


def _may(user: dict[str, Any], privilege: str, table: str) -> bool:
    for privileges, target in user["grants"]:
        if privilege in privileges and target in (f"trading.{table}", "trading.*", "*.*"):
            return True
    return False


def _migration_tables() -> list[str]:
    """Every table a migration creates (single-node names)."""
    tables = []
    for migration in load_migrations():
        for statement in migration.statements("trading"):
            match = re.match(r"^CREATE TABLE IF NOT EXISTS trading\.(\w+)", statement)
            if match:
                tables.append(match.group(1))
    return tables


def test_every_table_the_migrations_create_may_be_written_by_exactly_its_writer() -> None:
    """A new table without an INSERT grant fails here; so does one granted to the reader."""
    users = _users()
    tables = _migration_tables()
    assert {"orders", "fills", "positions", "cancel_commands"} <= set(tables)
    for table in [*tables, "schema_migrations"]:
        writer = "pipeline_migrate" if table == "schema_migrations" else "pipeline_sink"
        for name in (table, f"{table}_local"):  # the cluster form writes through both
            assert _may(users[writer], "INSERT", name), f"{writer} may not INSERT into {name}"
        others = [u for u in users if u != writer]
        assert not any(_may(users[u], "INSERT", table) for u in others), table


def test_the_sink_may_write_what_the_code_writes_and_run_no_ddl() -> None:
    sink = _users()["pipeline_sink"]
    for table in [*SINK_TABLES, *CANCEL_TABLES]:
        assert _may(sink, "INSERT", table), table
    granted = set().union(*(privileges for privileges, _ in sink["grants"]))
    assert granted == {"INSERT", "SELECT"}, granted  # no DDL, no table functions' sources
    assert all(t != "trading.*" for p, t in sink["grants"] if "INSERT" in p)
    assert sink["profile"].get("readonly") == "0"


def test_the_migrate_user_may_run_every_kind_of_statement_the_migrations_hold() -> None:
    migrate = _users()["pipeline_migrate"]
    assert _may(migrate, "CREATE DATABASE", "orders")
    for migration in load_migrations():
        for statement in migration.statements("trading"):
            needs = [p for pattern, p in STATEMENT_PRIVILEGES if re.match(pattern, statement)]
            assert needs, f"{migration.name}: no privilege known for {statement[:60]!r}"
            table = re.match(r"^\w+(?: OR REPLACE)? \w+(?: IF NOT EXISTS)? trading\.(\w+)",
                             statement)  # fmt: skip
            assert table, statement[:60]
            for privilege in needs[0]:
                assert _may(migrate, privilege, table.group(1)), (privilege, statement[:60])
    granted = set().union(*(privileges for privileges, _ in migrate["grants"]))
    assert not granted & {"DROP TABLE", "DROP DATABASE", "TRUNCATE", "ALTER DELETE", "ALL"}


@pytest.mark.parametrize("name", ["pipeline_reader", "grafana"])
def test_readers_only_select(name: str) -> None:
    users = {**_users(), **_users(INFRA / "clickhouse" / "grafana-user.xml")}
    reader = users[name]
    assert reader["grants"] == [({"SELECT"}, "trading.*")]
    assert reader["profile"].get("readonly") in ("1", "2")


def test_compose_gives_each_role_its_own_user_and_every_password_reaches_clickhouse() -> None:
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    services = compose["services"]

    def user_of(service: str) -> str:
        url = services[service]["environment"]["PIPELINE_CLICKHOUSE_URL"]
        return url.split("//", 1)[1].split(":", 1)[0]

    assert user_of("init") == "pipeline_migrate"
    assert user_of("sink") == "pipeline_sink"
    for role in ("ingest", "process", "cancel"):
        assert user_of(role) == "pipeline_reader", role
    clickhouse = services["clickhouse"]
    assert any("pipeline-users.xml:/etc/clickhouse-server/users.d/" in v
               for v in clickhouse["volumes"])  # fmt: skip
    assert clickhouse["environment"]["CLICKHOUSE_USER"] not in _users()
    for user in _users().values():
        assert user["password_env"] in clickhouse["environment"], user["password_env"]
