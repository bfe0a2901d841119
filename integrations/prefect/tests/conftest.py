"""Fixtures for codeferry-prefect's tests, run where Prefect 3 is installed (nox -s integration).

A real Prefect server (SQLite) runs for the session on a free 127.0.0.1 port; Prefect reads where
it is from the environment, set here before any test imports Prefect.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

pytest_plugins = ["tests.servers.git_http", "tests.servers.moto_s3"]

_READY_TIMEOUT = 180.0
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="codeferry-prefect-tests-"))
_PORT = free_port()
PREFECT_ENV = {
    "PREFECT_HOME": str(_SESSION_HOME / "prefect"),
    "PREFECT_API_URL": f"http://127.0.0.1:{_PORT}/api",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "INFO",
}
os.environ.update(PREFECT_ENV)


def pytest_unconfigure() -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


def prefect_program(name: str = "prefect") -> str:
    """A program of the Prefect installation these tests run under."""
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A Prefect server for the session, with prefect-aws's block types registered; its API URL."""
    log_path = _SESSION_HOME / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [prefect_program(), "server", "start", "--host", "127.0.0.1", "--port", str(_PORT)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=_SESSION_HOME,
        )
    try:
        deadline = time.monotonic() + _READY_TIMEOUT
        while not _healthy(PREFECT_ENV["PREFECT_API_URL"] + "/health"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Prefect server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        subprocess.run(
            [prefect_program(), "block", "register", "-m", "prefect_aws"],
            check=True,
            capture_output=True,
        )
        yield PREFECT_ENV["PREFECT_API_URL"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@pytest.fixture(autouse=True)
def codeferry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A codeferry home of the test's own (its checkouts and store)."""
    from codeferry.plugins import set_plugins
    from codeferry.store import set_store

    home = tmp_path / "codeferry-home"
    monkeypatch.setenv("CODEFERRY_HOME", str(home))
    previous = set_plugins(None)
    set_store(None)
    yield home
    set_plugins(previous)
    set_store(None)
