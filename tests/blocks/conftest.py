"""Block tests run end to end against the real store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from tests.store.conftest import database_url, store

__all__ = ["database_url", "store"]
