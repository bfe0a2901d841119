"""A Google Cloud Storage emulator for the tests, as a pytest plugin (``pytest_plugins``).

``gcs_server`` (session) starts ``gcp-storage-emulator`` (PyPI) in memory on a free 127.0.0.1 port
and stops it at the end. ``gcs_emulator`` (function) is the same server, wiped of every bucket and
object before the test. The emulator checks no credentials at all.

The emulator serves from a single-threaded ``http.server`` with a listen backlog of 5: parallel
clients overflow it and each dropped connection waits a second for the retransmit. It is therefore
started through a tiny launcher that raises the backlog first.

Without ``gcp-storage-emulator`` the tests that need the server fail when ``CI=true`` and are
skipped otherwise.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port, logged_process, missing, wait_until_ready

__all__ = ["LAUNCHER", "GcsEmulator", "running_gcs_emulator"]

_READY_TIMEOUT = 30.0

# Run as `python -c LAUNCHER start ...`: the emulator's own CLI, with a larger listen backlog.
LAUNCHER = (
    "import http.server, sys\n"
    "http.server.HTTPServer.request_queue_size = 1024\n"
    "from gcp_storage_emulator.__main__ import main\n"
    "main(sys.argv[1:])\n"
)


@dataclass(frozen=True)
class GcsEmulator:
    """A running emulator: its endpoint, and a project name to use."""

    port: int
    host: str = "127.0.0.1"
    project: str = "codeferry-test"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wipe(self) -> None:
        """Delete every bucket and object."""
        with urllib.request.urlopen(f"{self.endpoint}/wipe", timeout=10):
            pass

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project={self.project}",
            data=f'{{"name": "{name}"}}'.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.HTTPError, OSError):
        return False


@contextlib.contextmanager
def running_gcs_emulator() -> Iterator[GcsEmulator]:
    """gcp-storage-emulator in memory on a free 127.0.0.1 port; stopped after.

    Also used by the benchmarks, outside pytest.
    """
    server = GcsEmulator(port=free_port())
    url = f"{server.endpoint}/storage/v1/b?project={server.project}"
    failure = f"the GCS emulator did not start on {server.endpoint}"
    emulator = [sys.executable, "-c", LAUNCHER, "start", "--host", server.host]
    emulator += ["--port", str(server.port), "--in-memory", "-q"]
    with tempfile.TemporaryDirectory(
        prefix="codeferry-gcs-", ignore_cleanup_errors=True
    ) as workdir:
        log = Path(workdir) / "emulator.log"
        with logged_process(emulator, log, cwd=workdir) as process:
            wait_until_ready(lambda: _ready(url), process, log, failure, _READY_TIMEOUT)
            yield server


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsEmulator]:
    """gcp-storage-emulator on 127.0.0.1 for the whole session."""
    if importlib.util.find_spec("gcp_storage_emulator") is None:
        missing(
            "the GCS emulator",
            "gcp-storage-emulator is not installed (pip install gcp-storage-emulator)",
        )
    with running_gcs_emulator() as server:
        yield server


@pytest.fixture
def gcs_emulator(gcs_server: GcsEmulator) -> GcsEmulator:
    """The session's emulator, emptied for this test."""
    gcs_server.wipe()
    return gcs_server
