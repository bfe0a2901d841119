"""A folder in an Azure Blob Storage container as code storage: the ``azure-blob-storage-container``
block, pulled and pushed by codeferry's remote-storage engine over adlfs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from codeferry.errors import CodeferryError
from codeferry.remote import ObjectStoreFolder
from codeferry_azure.credentials import AzureBlobStorageCredentials
from codeferry_azure.plugin import Azure

if TYPE_CHECKING:
    from collections.abc import Mapping

    from codeferry.remote import ObjectStore, RemoteStorage

__all__ = ["AzureBlobStorageContainer"]


class AzureBlobStorageContainer(ObjectStoreFolder):
    """A folder in an Azure Blob Storage container that holds code.

    Without ``credentials``, adlfs reads them from the environment
    (``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` with a key, a SAS or
    Azure's default credential chain).
    """

    block_type_slug: ClassVar[str] = "azure-blob-storage-container"
    block_type_name: ClassVar[str] = "Azure Blob Storage Container"
    store: ClassVar[type[ObjectStore]] = Azure
    container_field: ClassVar[str] = "container_name"
    folder_field: ClassVar[str] = "base_folder"
    step_arguments: ClassVar[tuple[str, ...]] = ("container", "folder", "credentials")

    container_name: str = Field(description="The container's name.")
    base_folder: str | None = Field(
        default=None, description="The folder in the container that holds the code."
    )
    credentials: AzureBlobStorageCredentials | None = Field(
        default=None, description="How to reach the account; the environment's when unset."
    )

    def location(self) -> str:
        account = self.credentials.account_name if self.credentials else None
        return f" (account {account})" if account else ""

    @classmethod
    def url_fields(cls, host: str) -> dict[str, Any]:
        """``container@ACCOUNT.dfs.core.windows.net``: that account, with Azure's default
        credential chain."""
        account = host.split(".", maxsplit=1)[0]
        suffix = host.partition(".")[2].removeprefix("dfs.").removeprefix("blob.")
        if not account or not suffix:
            raise CodeferryError(f"Azure source has no account host after '@': {host!r}")
        url = f"https://{account}.blob.{suffix}"
        return {"credentials": AzureBlobStorageCredentials(account_url=url)}

    def quick_listing(self) -> Mapping[str, Mapping[str, Any]] | None:
        """The folder listed over plain HTTP, signed here, for a connection string (see
        :mod:`codeferry_azure.quick_listing`); adlfs is not imported."""
        try:
            options = self.credentials.storage_options() if self.credentials else {}
        except CodeferryError:
            return None
        return self.store.quick_list(options, self.container_name, self.folder)

    def remote(self) -> RemoteStorage:
        """The engine's storage for this folder (adlfs is imported here, not before)."""
        from codeferry.remote import RemoteStorage
        from codeferry.timeouts import network_timeouts, server_address
        from codeferry_azure.filesystem import blob_filesystem

        options = self.credentials.storage_options() if self.credentials else {}
        filesystem = blob_filesystem(timeouts=network_timeouts(), **options)
        client_url = filesystem.service_client.url
        # adlfs lists a folder marker `code/lib/` as an empty file `code/lib` when listing flat.
        return RemoteStorage(
            self.url,
            filesystem=filesystem,
            flat_listing=False,
            server=f"Azure Blob endpoint {server_address(client_url)}",
            **options,
        )
