"""A throwaway PostgreSQL cluster for the tests, as a pytest plugin (``pytest_plugins``).

``postgres_server`` (session) runs ``initdb`` and ``pg_ctl start`` in a temporary folder on a free
127.0.0.1 port with password (scram-sha-256) authentication, and stops it at the end;
``postgres_url`` (function) creates a fresh database for one test and gives its SQLAlchemy URL.

The server programs are looked up in ``CODEFERRY_TEST_PG_BIN``, then on ``PATH``, then in
``/usr/lib/postgresql/*/bin``. Without them the tests that need the server fail when ``CI=true``
and are skipped otherwise. As root, the server runs as the ``postgres`` user (initdb refuses
root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.servers import free_port, missing

if TYPE_CHECKING:
    import psycopg

_READY_TIMEOUT = 60.0
_USER = "postgres"


@dataclass
class PostgresServer:
    """A running cluster: where it listens, its superuser's password, its programs."""

    bin_dir: Path
    directory: Path
    port: int
    password: str = field(repr=False)
    host: str = "127.0.0.1"
    user: str = _USER

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3)."""
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{self.user}:{secret}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit psycopg connection to ``database``."""
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
        )

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"test_{secrets.token_hex(6)}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dump(self, database: str) -> bytes:
        """``pg_dump`` of ``database``: every row, as the server holds it."""
        return subprocess.run(
            [
                str(self.bin_dir / "pg_dump"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "--data-only",
                database,
            ],
            env={**os.environ, "PGPASSWORD": self.password},
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout


def _find_bin_dir() -> Path | None:
    configured = os.environ.get("CODEFERRY_TEST_PG_BIN")
    if configured:
        return Path(configured)
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return installed[-1] if installed else None


def _as_server_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", _USER, "--", *command] if os.geteuid() == 0 else command


def _wait_until_ready(server: PostgresServer) -> None:
    import psycopg

    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        try:
            with server.connect():
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def _running_cluster(bin_dir: Path) -> Iterator[PostgresServer]:
    # Not under pytest's tmp_path: its root folder is 0700 root, which the postgres user
    # cannot enter.
    directory = Path(tempfile.mkdtemp(prefix="codeferry-pg-"))
    password = secrets.token_urlsafe(16)
    data = directory / "data"
    log = directory / "server.log"
    started = False
    try:
        (directory / "pwfile").write_text(password + "\n")
        if os.geteuid() == 0:
            account = pwd.getpwnam(_USER)
            for path in (directory, directory / "pwfile"):
                os.chown(path, account.pw_uid, account.pw_gid)
        directory.chmod(0o700)
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    _USER,
                    f"--pwfile={directory / 'pwfile'}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        for _ in range(3):  # a free port may be taken between the probe and the start
            port = free_port()
            options = (
                f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            result = subprocess.run(
                _as_server_user(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-w",
                        "-t",
                        str(int(_READY_TIMEOUT)),
                        "-o",
                        options,
                        "start",
                    ]
                ),
                capture_output=True,
                timeout=_READY_TIMEOUT + 30,
                check=False,
            )
            if result.returncode == 0:
                started = True
                break
        if not started:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{tail}")
        server = PostgresServer(bin_dir=bin_dir, directory=directory, port=port, password=password)
        _wait_until_ready(server)
        yield server
    finally:
        if started:
            subprocess.run(
                _as_server_user(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on 127.0.0.1 for the whole session."""
    bin_dir = _find_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        missing("PostgreSQL", "PostgreSQL server programs (initdb, pg_ctl) are not installed")
    assert bin_dir is not None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("PostgreSQL", "psycopg is not installed (pip install 'psycopg[binary]')")
    with _running_cluster(bin_dir) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
