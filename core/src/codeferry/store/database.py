"""Engines for the store's database, and database errors turned into one-line store errors."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from codeferry.errors import StoreError
from codeferry.secrets import mask, remember

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "WRITE", "create_engine", "database_errors", "safe_url"]

SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Execution option marking a connection that will write: on SQLite its transaction takes the
#: write lock at BEGIN, so concurrent writers queue on the busy timeout instead of failing.
WRITE = "codeferry_write"

_SPACES = re.compile(r"\s+")


def safe_url(url: sa.URL | str) -> str:
    """The URL as text with its password hidden."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except exc.ArgumentError:
        return "<unparsable database URL>"
    return parsed.render_as_string(hide_password=True)


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and write transactions that lock."""
    with database_errors(url, "open"):
        parsed = sa.make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return sa.create_engine(parsed, pool_pre_ping=True)
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_database_file(Path(database).expanduser())
        engine = sa.create_engine(parsed)
        _configure_sqlite(engine)
        return engine


def _private_database_file(path: Path) -> None:
    """Create the SQLite file ``0600`` before SQLite does (it would use ``0644`` less the umask).

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode; those an older version
    left looser are tightened too.
    """
    from codeferry.home import private_file

    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        private_file(name)


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _connection_record: Any) -> None:
        # The driver's own transaction handling is turned off so that BEGIN is ours (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _write_ahead_log(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        # A deferred transaction that reads and then writes fails at once (SQLITE_BUSY) when
        # another process wrote in between; taking the lock at BEGIN makes it wait instead.
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _write_ahead_log(cursor: Any) -> None:
    """Put the database in WAL mode, waiting as long as the busy timeout for other writers.

    A new database starts in rollback mode, and SQLite answers "database is locked" at once,
    without its busy handler, when another connection holds a write lock while this one asks
    for WAL: processes that open a new store together would fail. Once one of them has switched
    the file, the mode is the file's, and the others' requests change nothing.
    """
    import sqlite3  # the driver of the connection being set up: already imported

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


# Database drivers that an extra of codeferry installs.
_DRIVER_EXTRAS = {"psycopg": "postgres"}


@contextlib.contextmanager
def database_errors(url: sa.URL | str, action: str) -> Iterator[None]:
    """Turn database and driver errors into :class:`StoreError` with a one-line message.

    The message names the database by its URL with the password hidden, and the password is
    masked in the driver's text too, in case a driver quotes its connection string.
    """
    try:
        yield
    except StoreError:
        raise
    except exc.DBAPIError as error:
        cause = _first_line(str(error.orig) if error.orig is not None else str(error))
        raise StoreError(_message(url, action, cause)) from None
    except exc.NoSuchModuleError as error:
        raise StoreError(_message(url, action, f"no SQLAlchemy dialect: {error}")) from None
    except exc.ArgumentError as error:
        raise StoreError(_message(url, action, f"bad database URL: {error}")) from None
    except ImportError as error:
        module = error.name or str(error)
        hint = _DRIVER_EXTRAS.get(module.split(".")[0])
        install = f": pip install 'codeferry[{hint}]'" if hint else ""
        raise StoreError(
            _message(url, action, f"its database driver is not installed ({module}{install})")
        ) from None
    except exc.SQLAlchemyError as error:
        raise StoreError(_message(url, action, _first_line(str(error)))) from None
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        cause = f"{error.strerror or type(error).__name__}{where}"
        raise StoreError(_message(url, action, cause)) from None


def _message(url: sa.URL | str, action: str, cause: str) -> str:
    password: str | None = None
    with contextlib.suppress(exc.ArgumentError):
        parsed = sa.make_url(url) if isinstance(url, str) else url
        password = str(parsed.password) if parsed.password is not None else None
    text = f"cannot {action} the block store at {safe_url(url)}: {cause}"
    remember(password)
    return mask(text)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return _SPACES.sub(" ", line.strip())
    return "unknown database error"
