"""Ordered, idempotent ClickHouse migrations from `schemas/migrations/NNNN_name.sql`.

Each file is a list of `;`-terminated statements written with `{database}` for the database
name, so the same files serve chDB, a ClickHouse server and test databases. Applied versions
are recorded in `<database>.schema_migrations` with a checksum; a file edited after it was
applied is refused rather than silently re-run (write a new migration instead).

On a ClickHouse cluster (PIPELINE_CLICKHOUSE_CLUSTER=name) the same files are transformed
statement by statement (`cluster_statements`): every table becomes a `<name>_local`
Replicated*MergeTree created `ON CLUSTER`, with a Distributed table `<name>` over it sharded
by a hash of its sorting key (so every version of one key lands on one shard and FINAL stays
correct per shard); views and the database are created `ON CLUSTER` over the Distributed
tables. Readers and the sink keep using the plain names. `ALTER TABLE <name> ...` (a column
added to a table) becomes the same ALTER `ON CLUSTER` on `<name>_local` and then on the
Distributed `<name>`, so both keep one structure.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import StoreError
from pipeline.resources import migrations_dir
from pipeline.sink.store import Store

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CREATE_TABLE_RE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<table>\w+)\s*(?P<columns>\(.*\))\s*"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?\s*(?P<rest>.*)$",
    re.DOTALL,
)
_ORDER_BY_RE = re.compile(r"ORDER BY (?:\((?P<many>[^)]*)\)|(?P<one>\w+))")
_CREATE_VIEW_RE = re.compile(
    r"^(?P<head>CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?\w+\.\w+)\s+AS\b", re.DOTALL
)
_CREATE_DATABASE_RE = re.compile(r"^(CREATE DATABASE IF NOT EXISTS \w+)$")
_ALTER_TABLE_RE = re.compile(
    r"^ALTER TABLE (?P<db>\w+)\.(?P<table>\w+)\s+(?P<rest>(?:ADD|MODIFY|COMMENT) COLUMN\b.*)$",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str) -> list[str]:
        """The file's statements with `{database}` substituted and comments removed."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        text = "\n".join(lines).replace("{database}", database)
        return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def cluster_statements(statements: list[str], cluster: str) -> list[str]:
    """The single-node DDL of `statements` for the ClickHouse cluster `cluster`."""
    if not re.fullmatch(r"\w+", cluster):
        raise StoreError(f"cluster {cluster!r} is not a cluster name")
    on = f"ON CLUSTER {cluster}"
    out: list[str] = []
    for statement in statements:
        table = _CREATE_TABLE_RE.match(statement)
        view = _CREATE_VIEW_RE.match(statement)
        database = _CREATE_DATABASE_RE.match(statement)
        alter = _ALTER_TABLE_RE.match(statement)
        if table is not None:
            db, name, rest = table["db"], table["table"], table["rest"]
            order = _ORDER_BY_RE.search(rest)
            if order is None:
                raise StoreError(f"table {db}.{name} has no ORDER BY to shard by")
            key = order["many"] or order["one"]
            args = [f"'/clickhouse/tables/{{shard}}/{db}/{name}_local'", "'{replica}'"]
            args += [table["args"]] if table["args"] else []
            out.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{name}_local {on} {table['columns']}\n"
                f"ENGINE = Replicated{table['engine']}({', '.join(args)})\n{rest}"
            )
            out.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{name} {on} AS {db}.{name}_local\n"
                f"ENGINE = Distributed({cluster}, {db}, {name}_local, sipHash64({key}))"
            )
        elif view is not None:
            out.append(f"{view['head']} {on} AS{statement[view.end() :]}")
        elif database is not None:
            out.append(f"{database.group(1)} {on}")
        elif alter is not None:
            db, name, rest = alter["db"], alter["table"], alter["rest"]
            out.append(f"ALTER TABLE {db}.{name}_local {on} {rest}")  # the data first,
            out.append(f"ALTER TABLE {db}.{name} {on} {rest}")  # then the table over it
        else:
            raise StoreError(f"no cluster form for the statement: {statement[:80]}")
    return out


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All migrations in version order; a misnamed or duplicated file is an error."""
    directory = directory or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if match is None:
            raise StoreError(f"migration file {path.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations share version {version:04d}")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def applied_migrations(store: Store) -> dict[int, str]:
    """version -> checksum of the migrations recorded in the store."""
    result = store.query(
        f"SELECT version, argMax(checksum, applied_at) FROM {store.database}.schema_migrations "
        "GROUP BY version"
    )
    return {int(v): str(c) for v, c in result.rows}


#: ClickHouse's answers to a user without the rights for a statement: ACCESS_DENIED (497),
#: QUERY_IS_PROHIBITED (392, `allow_ddl = 0`), READONLY (164).
_DENIED = re.compile(r"Code: (497|392|164)\.")


def _pending(migrations: list[Migration], recorded: dict[int, str]) -> list[Migration]:
    """The migrations not yet recorded; a recorded one whose file changed is an error."""
    pending = []
    for migration in migrations:
        previous = recorded.get(migration.version)
        if previous is None:
            pending.append(migration)
        elif previous != migration.checksum:
            raise StoreError(
                f"migration {migration.version:04d}_{migration.name} changed after it was "
                f"applied (checksum {previous} -> {migration.checksum}); add a new migration"
            )
    return pending


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def migrate(
    store: Store, migrations: list[Migration] | None = None, cluster: str | None = None
) -> list[Migration]:
    """Apply every migration not yet applied; return those applied now.

    `cluster` (`Settings.clickhouse_cluster`, from PIPELINE_CLICKHOUSE_CLUSTER; None = single
    node) selects the replicated + distributed form of every statement (`cluster_statements`).

    A store already up to date gets only a read of `schema_migrations`, no DDL: the sink runs
    this at start, and with the least-privilege users of infra/clickhouse/pipeline-users.xml
    it may only insert and select; `pipeline migrate`, run as `pipeline_migrate`, applies the
    DDL. A pending migration on a user without DDL rights fails with an error that says so.
    """
    migrations = load_migrations() if migrations is None else migrations
    db = store.database
    try:
        recorded: dict[int, str] | None = applied_migrations(store)
    except StoreError:
        recorded = None  # a new store: no database or no schema_migrations table yet
    if recorded is not None and not _pending(migrations, recorded):
        return []  # up to date: no DDL at all, so a user without DDL rights may run this

    def ddl(statements: list[str]) -> list[str]:
        return cluster_statements(statements, cluster) if cluster else statements

    def run(statement: str) -> None:
        try:
            store.command(statement)
        except StoreError as exc:
            if _DENIED.search(str(exc)):
                pending = _pending(migrations, recorded or {})
                names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending) or "the first"
                raise StoreError(
                    f"migrations {names} are not applied and ClickHouse user of this store may "
                    f"not run DDL ({_first_line(exc)}); run `pipeline migrate` with a user "
                    "allowed DDL (infra/clickhouse/pipeline-users.xml: pipeline_migrate)"
                ) from exc
            raise

    for statement in ddl(
        [
            f"CREATE DATABASE IF NOT EXISTS {db}",
            f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations ("
            "version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')"
            ") ENGINE = MergeTree ORDER BY version",
        ]
    ):
        run(statement)
    done = applied_migrations(store)
    applied: list[Migration] = []
    for migration in _pending(migrations, done):
        started = time.monotonic()
        for statement in ddl(migration.statements(db)):
            run(statement)
        store.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
            ["version", "name", "checksum", "applied_at"],
        )
        log.info(
            "applied migration %04d_%s in %.2fs",
            migration.version,
            migration.name,
            time.monotonic() - started,
        )
        applied.append(migration)
    return applied
