"""Fixtures for store tests: every test runs against SQLite and against a real PostgreSQL."""

from __future__ import annotations

import pytest

from codeferry.store import BlockStore, get_store


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The block store's URL, set as ``CODEFERRY_DATABASE_URL`` for PostgreSQL.

    SQLite is the default file in the test's home folder.
    """
    if request.param == "sqlite":
        from codeferry.settings import database_url

        return database_url()
    url: str = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("CODEFERRY_DATABASE_URL", url)
    return url


@pytest.fixture
def store(database_url: str) -> BlockStore:
    """The process-wide store for this test's settings."""
    current = get_store()
    assert current.url == database_url
    return current
