"""A folder in an Azure Blob Storage container as code storage: the ``azure-blob-storage-container``
block, pulled and pushed by codeferry's remote-storage engine over adlfs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult
from codeferry_azure.credentials import AzureBlobStorageCredentials

if TYPE_CHECKING:
    from codeferry.remote import RemoteStorage

__all__ = ["AzureBlobStorageContainer"]

PULL_STEP = "codeferry_azure.steps.pull_from_azure_blob_storage"


class AzureBlobStorageContainer(CodeStorage, Block):
    """A folder in an Azure Blob Storage container that holds code.

    Without ``credentials``, adlfs reads them from the environment
    (``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` with a key, a SAS or
    Azure's default credential chain).
    """

    block_type_slug: ClassVar[str] = "azure-blob-storage-container"
    block_type_name: ClassVar[str] = "Azure Blob Storage Container"

    container_name: str = Field(description="The container's name.")
    base_folder: str | None = Field(
        default=None, description="The folder in the container that holds the code."
    )
    credentials: AzureBlobStorageCredentials | None = Field(
        default=None, description="How to reach the account; the environment's when unset."
    )

    @field_validator("container_name")
    @classmethod
    def _plain_container_name(cls, value: str) -> str:
        if not value or "/" in value or "@" in value or ":" in value:
            raise ValueError("container_name is a single name, such as 'flows'")
        return value

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``az://container/folder``, ``abfs[s]://container/folder`` or
        ``abfs[s]://container@account.dfs.core.windows.net/folder``.

        A URL that names its account signs in to it with Azure's default credential chain.

        :raises CodeferryError: for a URL without a container, or with credentials in it.
        """
        parts = urlsplit(url)
        container, at, host = parts.netloc.partition("@")
        if ":" in container or parts.query or parts.fragment:
            raise CodeferryError(
                f"Azure source {parts.scheme}://{host or container}/... must not carry "
                "credentials or a query; give credentials through a block or the environment"
            )
        if not container:
            raise CodeferryError(f"Azure source {url!r} names no container")
        credentials = None
        if at:
            account = host.split(".")[0]
            suffix = host.partition(".")[2].removeprefix("dfs.").removeprefix("blob.")
            if not account or not suffix:
                raise CodeferryError(f"Azure source {url!r} has no account host after '@'")
            credentials = AzureBlobStorageCredentials(
                account_url=f"https://{account}.blob.{suffix}"
            )
        return cls(container_name=container, base_folder=parts.path, credentials=credentials)

    @property
    def folder(self) -> str:
        """``base_folder`` without outer slashes (``""`` for the whole container)."""
        return (self.base_folder or "").strip("/")

    def __str__(self) -> str:
        where = f"az://{self.container_name}/{self.folder}".rstrip("/")
        account = self.credentials.account_name if self.credentials else None
        return f"{where} (account {account})" if account else where

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        arguments: dict[str, Any] = {"container": self.container_name, "folder": self.folder}
        if self.credentials is not None:
            arguments["credentials"] = _credentials_argument(self.credentials)
        return {PULL_STEP: arguments}

    def checkout_key(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__} {self}"

    def remote(self) -> RemoteStorage:
        """The engine's storage for this folder (adlfs is imported here, not before)."""
        from codeferry.remote import RemoteStorage
        from codeferry.timeouts import network_timeouts, server_address
        from codeferry_azure.filesystem import BoundedBlobFileSystem

        options = self.credentials.storage_options() if self.credentials else {}
        url = f"az://{self.container_name}/{self.folder}".rstrip("/")
        filesystem = BoundedBlobFileSystem(timeouts=network_timeouts(), **options)
        # adlfs lists a folder marker `code/lib/` as an empty file `code/lib` when listing flat.
        return RemoteStorage(
            url,
            filesystem=filesystem,
            flat_listing=False,
            server=f"Azure Blob endpoint {server_address(filesystem.service_client.url)}",
            **options,
        )

    def fetch(self, context: PullContext) -> FetchResult:
        return self.remote().fetch(context)

    def push_code(self, source_dir: str | Path) -> PushResult:
        return self.remote().push_code(source_dir)


def _credentials_argument(credentials: AzureBlobStorageCredentials) -> Any:
    """Saved credentials by reference; unsaved ones only when they hold no secret."""
    if credentials.block_name:
        return f"{{{{ blocks.{credentials.block_type_slug}.{credentials.block_name} }}}}"
    if credentials.secret_values():
        raise CodeferryError(
            "save the container's credentials as a block first: a pull step refers to "
            "secrets by block name, never by value"
        )
    return credentials.public_dict()
