"""Database problems become one-line store errors that never show the password."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from codeferry.errors import StoreError
from codeferry.store import BlockDocument, BlockStore
from tests.servers.postgres import PostgresServer


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_one_line_without(error: StoreError, secret: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert secret not in message
    assert "***" in message


@pytest.mark.postgres
def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    password = "hunter2-unreachable"
    url = f"postgresql+psycopg://codeferry:{password}@127.0.0.1:{closed_port()}/codeferry"
    with pytest.raises(StoreError, match=r"^cannot open the block store at postgresql") as caught:
        BlockStore(url).list_documents()
    assert_one_line_without(caught.value, password)
    assert "Connection refused" in str(caught.value) or "connect" in str(caught.value)


@pytest.mark.postgres
def test_wrong_postgres_password_is_a_store_error_without_it(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    password = "wrong-pass-5f1e"
    url = postgres_server.url(sa.make_url(postgres_url).database or "", password=password)
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        BlockStore(url).list_documents()
    assert_one_line_without(caught.value, password)
    assert postgres_server.password not in str(caught.value)


def test_read_only_sqlite_file_reads_but_refuses_writes_clearly(codeferry_home: Path) -> None:
    writable = BlockStore()
    writable.save_document(BlockDocument("t", "a", {"x": 1}, {"s": "v"}))
    writable.close()
    path = codeferry_home / "codeferry.db"
    read_only = BlockStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert [d.name for d in read_only.list_documents()] == ["a"]
    with pytest.raises(StoreError, match=r"^cannot write the block store at .*readonly") as caught:
        read_only.save_document(BlockDocument("t", "b", {"x": 2}))
    assert "\n" not in str(caught.value)
    assert [d.name for d in BlockStore().list_documents()] == ["a"]


def test_a_new_sqlite_store_in_a_folder_that_does_not_exist_yet_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.db"
    BlockStore(f"sqlite:///{path}").set_variable("v", 1)
    assert path.exists()


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("nonsense", "bad database URL"),
        ("nosuchdialect://user:pw-9z@host/db", "no SQLAlchemy dialect"),
        ("postgresql+nosuchdriver://user:pw-9z@host/db", "no SQLAlchemy dialect"),
    ],
)
def test_an_unusable_url_is_a_store_error(url: str, cause: str) -> None:
    with pytest.raises(StoreError, match=cause) as caught:
        BlockStore(url).list_documents()
    assert "pw-9z" not in str(caught.value)


def test_a_missing_driver_says_so_and_which_extra_brings_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    expected = r"driver is not installed \(psycopg: pip install 'codeferry\[postgres\]'\)"
    with pytest.raises(StoreError, match=expected) as caught:
        BlockStore("postgresql+psycopg://user:pw-9z@127.0.0.1/db").list_documents()
    assert "pw-9z" not in str(caught.value)
