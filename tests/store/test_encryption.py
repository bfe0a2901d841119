"""Secret values are encrypted at rest with a key that never enters the database."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from codeferry.errors import StoreKeyError
from codeferry.store import BlockDocument, BlockStore, get_store, set_store
from tests.servers.postgres import PostgresServer

SECRET = "tok-3f9a1c-very-secret"
PUBLIC = "public-bucket-name-77"


def save_secret(store: BlockStore) -> None:
    store.save_document(
        BlockDocument("s3-bucket", "prod", {"bucket": PUBLIC}, {"credentials.token": SECRET})
    )


def database_bytes(url: str, request: pytest.FixtureRequest) -> bytes:
    """Everything the database holds: the SQLite files, or a pg_dump plus every row as text."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        path = Path(parsed.database)
        return b"".join(
            p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
    server: PostgresServer = request.getfixturevalue("postgres_server")
    assert parsed.database is not None
    rows = b""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        for table in ("block_documents", "block_types", "variables", "store_meta"):
            for row in connection.execute(sa.text(f"SELECT t::text FROM {table} t")):
                rows += row[0].encode()
    engine.dispose()
    return server.dump(parsed.database) + rows


def rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found: dict[str, list[tuple[object, ...]]] = {
            table: sorted(
                tuple(str(v) for v in row)
                for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
            )
            for table in ("block_documents", "block_types", "variables", "store_meta")
        }
        found["alembic_version"] = [
            tuple(r) for r in connection.execute(sa.text("SELECT * FROM alembic_version"))
        ]
    engine.dispose()
    return found


@pytest.fixture
def other_key() -> str:
    return Fernet.generate_key().decode()


def test_secret_values_never_reach_the_database_in_clear(
    store: BlockStore, database_url: str, request: pytest.FixtureRequest
) -> None:
    save_secret(store)
    store.close()
    raw = database_bytes(database_url, request)
    assert PUBLIC.encode() in raw  # the check can see what is stored
    assert SECRET.encode() not in raw
    assert get_store().get_document("s3-bucket", "prod").secrets == {"credentials.token": SECRET}


def test_the_key_is_never_stored_in_the_database(
    store: BlockStore, database_url: str, request: pytest.FixtureRequest, codeferry_home: Path
) -> None:
    save_secret(store)
    store.close()
    key = (codeferry_home / "encryption.key").read_bytes().strip()
    assert key not in database_bytes(database_url, request)


def test_key_file_is_created_private_even_with_a_permissive_umask(
    database_url: str, codeferry_home: Path
) -> None:
    previous = os.umask(0)
    try:
        save_secret(BlockStore(database_url))
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((codeferry_home / "encryption.key").stat().st_mode)
    assert mode == 0o600
    Fernet((codeferry_home / "encryption.key").read_bytes().strip())  # a valid key
    assert [p.name for p in codeferry_home.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.usefixtures("database_url")
def test_key_from_the_environment_is_used_and_no_key_file_is_made(
    codeferry_home: Path, monkeypatch: pytest.MonkeyPatch, other_key: str
) -> None:
    monkeypatch.setenv("CODEFERRY_ENCRYPTION_KEY", other_key)
    save_secret(get_store())
    assert not (codeferry_home / "encryption.key").exists()
    set_store(None)
    assert get_store().get_document("s3-bucket", "prod").secrets == {"credentials.token": SECRET}


def test_wrong_key_from_environment_is_refused_and_changes_nothing(
    store: BlockStore, database_url: str, monkeypatch: pytest.MonkeyPatch, other_key: str
) -> None:
    save_secret(store)
    store.set_variable("v", 1)
    store.close()
    before = rows(database_url)
    monkeypatch.setenv("CODEFERRY_ENCRYPTION_KEY", other_key)
    wrong = get_store()
    with pytest.raises(StoreKeyError) as caught:
        wrong.save_document(BlockDocument("s3-bucket", "other", {}, {"t": "x"}))
    message = str(caught.value)
    assert "encrypted with another key than the one from CODEFERRY_ENCRYPTION_KEY" in message
    assert other_key not in message
    assert "\n" not in message
    with pytest.raises(StoreKeyError):
        wrong.set_variable("v", 2)
    with pytest.raises(StoreKeyError):
        wrong.list_documents()
    assert rows(database_url) == before


def test_wrong_key_file_is_refused_naming_the_file(
    store: BlockStore, database_url: str, codeferry_home: Path, other_key: str
) -> None:
    save_secret(store)
    store.close()
    key_file = codeferry_home / "encryption.key"
    right_key = key_file.read_text().strip()
    key_file.write_text(other_key)
    with pytest.raises(StoreKeyError, match=r"key file .*encryption\.key") as caught:
        BlockStore(database_url).list_documents()
    assert other_key not in str(caught.value)
    assert right_key not in str(caught.value)


def test_store_without_any_key_says_where_to_put_it_and_makes_no_key(
    store: BlockStore, database_url: str, codeferry_home: Path
) -> None:
    save_secret(store)
    store.close()
    (codeferry_home / "encryption.key").unlink()
    with pytest.raises(StoreKeyError, match="encrypted, but no key was found"):
        BlockStore(database_url).get_document("s3-bucket", "prod")
    assert not (codeferry_home / "encryption.key").exists()


def test_key_given_to_the_store_wins_and_is_checked(
    database_url: str, codeferry_home: Path, other_key: str
) -> None:
    save_secret(BlockStore(database_url, key=other_key.encode()))
    assert not (codeferry_home / "encryption.key").exists()
    assert BlockStore(database_url, key=other_key).get_document("s3-bucket", "prod").secrets
    with pytest.raises(StoreKeyError, match="the key given to BlockStore"):
        BlockStore(database_url, key=Fernet.generate_key()).list_documents()


@pytest.mark.parametrize("bad", ["not-a-key", "A" * 44, "gAAAAA with spaces"])
def test_a_malformed_key_is_refused_without_showing_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("CODEFERRY_ENCRYPTION_KEY", bad)
    with pytest.raises(StoreKeyError) as caught:
        BlockStore(database_url).list_documents()
    assert "CODEFERRY_ENCRYPTION_KEY is not a valid Fernet key" in str(caught.value)
    assert bad not in str(caught.value)


@pytest.mark.usefixtures("database_url")
def test_an_empty_key_variable_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, codeferry_home: Path
) -> None:
    monkeypatch.setenv("CODEFERRY_ENCRYPTION_KEY", "  ")
    save_secret(get_store())
    assert (codeferry_home / "encryption.key").exists()


@pytest.fixture
def sqlite_path(codeferry_home: Path) -> Path:
    return codeferry_home / "codeferry.db"


def test_secrets_tampered_with_in_the_database_are_not_trusted(sqlite_path: Path) -> None:
    store = get_store()
    save_secret(store)
    store.close()
    with sqlite3.connect(sqlite_path) as connection:
        connection.execute("UPDATE block_documents SET secrets = ?", (b"gAAAAAtampered",))
    connection.close()
    with pytest.raises(StoreKeyError, match="secrets of block s3-bucket/prod cannot be decrypted"):
        BlockStore().get_document("s3-bucket", "prod")
