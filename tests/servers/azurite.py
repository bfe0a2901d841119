"""Azurite (Azure Blob Storage emulator) for the tests, as a pytest plugin (``pytest_plugins``).

``azurite_server`` (session) starts ``azurite-blob`` from npm on a free 127.0.0.1 port, with one
storage account whose key is random for the session (so a test can check that the key never shows),
and stops it at the end. Azurite checks shared-key signatures: a wrong key is refused with 403.
``azurite_container`` (function) creates an empty container for one test and deletes it after
(Azurite has no reset API).

Azurite is pinned in ``tests/servers/node/package.json`` and its lock file; when
``node_modules`` is missing there, the fixture runs ``npm ci`` first. Without node/npm or the
Python Azure SDK the tests that need the server fail when ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import answers_http, free_port, logged_process, missing, wait_until_ready

__all__ = ["AzuriteServer", "azurite_program", "running_azurite"]

NODE_DIR = Path(__file__).parent / "node"
_READY_TIMEOUT = 30.0
_INSTALL_TIMEOUT = 300.0


@dataclass
class AzuriteServer:
    """A running Azurite blob service: its account, key and endpoint."""

    port: int
    account: str
    key: str = field(repr=False)
    host: str = "127.0.0.1"

    @property
    def account_url(self) -> str:
        """The blob endpoint of the account (Azurite puts the account in the path)."""
        return f"http://{self.host}:{self.port}/{self.account}"

    def connection_string(self, *, key: str | None = None) -> str:
        """A connection string for the account, with ``key`` instead of the right one if given."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};"
            f"AccountKey={self.key if key is None else key};BlobEndpoint={self.account_url};"
        )

    def create_container(self, name: str) -> None:
        from azure.storage.blob import BlobServiceClient

        with BlobServiceClient.from_connection_string(self.connection_string()) as service:
            service.create_container(name)

    def delete_container(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.blob import BlobServiceClient

        with (
            BlobServiceClient.from_connection_string(self.connection_string()) as service,
            contextlib.suppress(ResourceNotFoundError),
        ):
            service.delete_container(name)


def azurite_program() -> Path | None:
    """``azurite-blob`` from tests/servers/node, installed with ``npm ci`` when missing."""
    program = NODE_DIR / "node_modules" / ".bin" / "azurite-blob"
    if program.exists():
        return program
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    # `npm ci` installs exactly what the lock file pins, or fails.
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        check=True,
        capture_output=True,
        timeout=_INSTALL_TIMEOUT,
    )
    return program if program.exists() else None


@contextlib.contextmanager
def running_azurite(program: Path) -> Iterator[AzuriteServer]:
    """Azurite's blob service on a free 127.0.0.1 port, with a random account key; stopped after.

    Also used by the benchmarks, outside pytest.
    """
    account = "codeferry"
    key = base64.b64encode(secrets.token_bytes(64)).decode()
    port = free_port()
    server = AzuriteServer(port=port, account=account, key=key)
    url = server.account_url + "?comp=list"
    failure = f"Azurite did not start on {url}"
    # The key goes through the environment, never the process arguments.
    environment = {**os.environ, "AZURITE_ACCOUNTS": f"{account}:{key}"}
    azurite = [
        str(program),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--skipApiVersionCheck",  # the Python SDK speaks newer API versions
        "--loose",
        "--inMemoryPersistence",
        "--disableTelemetry",  # the network is closed; don't wait on it
        "--silent",
    ]
    with tempfile.TemporaryDirectory(
        prefix="codeferry-azurite-", ignore_cleanup_errors=True
    ) as workdir:
        log = Path(workdir) / "azurite.log"
        with logged_process(azurite, log, cwd=workdir, env=environment) as process:
            wait_until_ready(lambda: answers_http(url), process, log, failure, _READY_TIMEOUT)
            yield server


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    """An Azurite blob service on 127.0.0.1 for the whole session."""
    try:
        import azure.storage.blob  # noqa: F401
    except ImportError:
        missing(
            "Azurite", "azure-storage-blob is not installed (pip install adlfs azure-storage-blob)"
        )
    try:
        program = azurite_program()
    except (subprocess.SubprocessError, OSError) as error:
        missing("Azurite", f"`npm ci` in {NODE_DIR} failed: {error}")
        raise
    if program is None:
        missing("Azurite", "node and npm are needed to install Azurite (tests/servers/node)")
    assert program is not None
    with running_azurite(program) as server:
        yield server


@pytest.fixture
def azurite_container(azurite_server: AzuriteServer) -> Iterator[str]:
    """The name of a new, empty container, deleted after the test."""
    name = f"test-{secrets.token_hex(6)}"
    azurite_server.create_container(name)
    yield name
    azurite_server.delete_container(name)
