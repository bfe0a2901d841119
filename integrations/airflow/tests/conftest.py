"""Fixtures for codeferry-airflow's tests, run where Airflow 3 is installed (nox -s integration).

Airflow reads its configuration from the environment when it is first imported, so an isolated
``AIRFLOW_HOME`` (SQLite database, no example DAGs) is set up before any test imports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.servers.git_http", "tests.servers.moto_s3"]

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="codeferry-airflow-tests-"))
_AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(_SESSION_HOME / "airflow"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    # Else the DAG processor skips writing a DAG it wrote less than 30 s before: a test that
    # changes its source and parses again within 30 s would see the old DAG version.
    "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(_SESSION_HOME / "bundles"),
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
}
os.environ.update(_AIRFLOW_ENV)


def pytest_unconfigure() -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_database() -> Path:
    """Airflow's SQLite database, migrated once for the session."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(_AIRFLOW_ENV["AIRFLOW_HOME"]) / "airflow.db"


@pytest.fixture(autouse=True)
def isolated_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A codeferry home and an Airflow bundle folder of the test's own."""
    from codeferry.plugins import set_plugins
    from codeferry.store import set_store

    monkeypatch.setenv("CODEFERRY_HOME", str(tmp_path / "codeferry-home"))
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH", str(tmp_path / "bundles"))
    previous = set_plugins(None)
    set_store(None)
    yield tmp_path
    set_plugins(previous)
    set_store(None)
