"""Ordered, idempotent ClickHouse migrations from `schemas/migrations/NNNN_name.sql`.

Each file is a list of `;`-terminated statements written with `{database}` for the database
name, so the same files serve chDB, a ClickHouse server and test databases. Applied versions
are recorded in `<database>.schema_migrations` with a checksum; a file edited after it was
applied is refused rather than silently re-run (write a new migration instead).
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


def migrate(store: Store, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every migration not yet applied; return those applied now."""
    migrations = load_migrations() if migrations is None else migrations
    db = store.database
    store.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    store.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations ("
        "version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')"
        ") ENGINE = MergeTree ORDER BY version"
    )
    done = applied_migrations(store)
    applied: list[Migration] = []
    for migration in migrations:
        previous = done.get(migration.version)
        if previous is not None:
            if previous != migration.checksum:
                raise StoreError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    f"applied (checksum {previous} -> {migration.checksum}); add a new migration"
                )
            continue
        started = time.monotonic()
        for statement in migration.statements(db):
            store.command(statement)
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
