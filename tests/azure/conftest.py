"""Fixtures for the Azure plugin's tests: Azurite, a container, and a way to put blobs in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from codeferry.plugins import Plugins
from codeferry_azure.credentials import AzureBlobStorageCredentials
from tests.conftest import use_plugins
from tests.servers.azurite import AzuriteServer

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient


@dataclass
class Blobs:
    """The blobs of one container, written with the Azure SDK (not the code under test)."""

    server: AzuriteServer
    container: str

    def _client(self) -> ContainerClient:
        from azure.storage.blob import ContainerClient

        return ContainerClient.from_connection_string(
            self.server.connection_string(), self.container
        )

    def put(self, name: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        with self._client() as client:
            client.upload_blob(name, data, overwrite=True, metadata=dict(metadata or {}))

    def names(self) -> list[str]:
        with self._client() as client:
            return sorted(blob.name for blob in client.list_blobs())

    def read(self, name: str) -> bytes:
        with self._client() as client:
            data: bytes = client.download_blob(name).readall()
            return data

    def replace(self, folder: str, files: Mapping[str, bytes]) -> None:
        """Make ``folder`` hold exactly ``files``.

        A name with ``..`` components is sent with backslashes, which the service stores as
        slashes: sent as is, the URL's ``..`` would be resolved before it is stored.

        :raises NotImplementedError: for a name the service does not store as given.
        """
        from azure.core.exceptions import HttpResponseError

        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        for path in files:
            if path.startswith("/"):
                # adlfs lists "code//x.py" as "code/x.py": the name never reaches codeferry.
                raise NotImplementedError(f"adlfs lists {prefix + path!r} without its '//'")
        with self._client() as client:
            for blob in client.list_blobs(name_starts_with=prefix):
                client.delete_blob(blob.name)
            for path, data in files.items():
                sent = path.replace("/", "\\") if ".." in path.split("/") else path
                try:
                    client.upload_blob(prefix + sent, data, overwrite=True)
                except HttpResponseError as error:
                    # The SDK signs "code/../x.py"; the service resolves it and refuses the
                    # signature: Azure cannot hold such a name.
                    raise NotImplementedError(f"Azure refused {prefix + path!r}") from error
            stored = {blob.name for blob in client.list_blobs(name_starts_with=prefix)}
        missing = {prefix + path for path in files} - stored
        if missing:
            raise NotImplementedError(f"Azure stored {sorted(missing)} under other names")


@pytest.fixture
def blobs(azurite_server: AzuriteServer, azurite_container: str) -> Blobs:
    return Blobs(azurite_server, azurite_container)


@pytest.fixture
def credentials(azurite_server: AzuriteServer) -> AzureBlobStorageCredentials:
    return AzureBlobStorageCredentials(connection_string=azurite_server.connection_string())


@pytest.fixture
def azure_plugins() -> Plugins:
    """Core, local and the Azure plugin, and nothing else installed on the machine."""
    return use_plugins(local="codeferry_local.plugin", azure="codeferry_azure.plugin")
