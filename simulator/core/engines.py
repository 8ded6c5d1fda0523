"""The store a ``--db`` value names: ``postgresql://…`` or a SQLite file (or ``:memory:``)."""

from __future__ import annotations

from simulator.core.sqlitestore import SqliteStore
from simulator.core.store import Store


def open_store(url: str) -> Store:
    """The store ``url`` names (PostgreSQL's driver is imported only when one is asked for)."""
    if url.startswith(("postgresql://", "postgres://")):
        from simulator.core.pgstore import PostgresStore

        return PostgresStore(url)
    return SqliteStore(url)
