"""Schema migrations: numbered SQL files (``migrations/NNNN_name.sql``), applied in order, once
each, recorded in ``schema_migrations``. The same runner and the same numbers for both engines;
where PostgreSQL's dialect differs, ``NNNN_name.postgresql.sql`` stands in for that step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<engine>postgresql))?\.sql$")
TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        """The file's statements (``--`` comments dropped; no statement holds a semicolon)."""
        text = "\n".join(
            line
            for line in self.path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in text.split(";") if s.strip()]


def plan(engine: str) -> list[Migration]:
    """Every migration for ``engine`` ("sqlite" or "postgresql"), in order."""
    chosen: dict[int, Migration] = {}
    for path in sorted(MIGRATIONS.glob("*.sql")):
        match = FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: not NNNN_name.sql or NNNN_name.postgresql.sql")
        version, own = int(match["version"]), match["engine"]
        if own and own != engine:
            continue
        if own or version not in chosen:
            chosen[version] = Migration(version, match["name"], path)
    return [chosen[v] for v in sorted(chosen)]


def apply(engine: str, execute: Callable[..., Any], now: str) -> list[int]:
    """Run the pending migrations through ``execute`` (inside the caller's transaction, which
    holds the engine's write lock); the versions applied."""
    execute(TABLE)
    applied = {row[0] for row in execute("SELECT version FROM schema_migrations")}
    done = []
    for migration in plan(engine):
        if migration.version in applied:
            continue
        for statement in migration.statements():
            execute(statement)
        execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, now),
        )
        done.append(migration.version)
    return done
