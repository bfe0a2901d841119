"""The hooks of codeferry-azure: its entry-point module, kept light (adlfs is imported on use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.storage import CodeStorage

SCHEMES = ("az", "abfs", "abfss")


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_azure.container import AzureBlobStorageContainer
    from codeferry_azure.credentials import AzureBlobStorageCredentials

    register(AzureBlobStorageCredentials)
    register(AzureBlobStorageContainer)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_azure import steps

    register(
        steps.pull_from_azure_blob_storage,
        aliases=["prefect_azure.deployments.steps.pull_from_azure_blob_storage"],
    )
    register(
        steps.push_to_azure_blob_storage,
        aliases=["prefect_azure.deployments.steps.push_to_azure_blob_storage"],
    )


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "azure",
        description="a folder in an Azure Blob Storage container (credentials from the "
        "environment, such as AZURE_STORAGE_CONNECTION_STRING)",
        examples=[
            "az://container/folder",
            "abfs://container/folder",
            "abfss://container@account.dfs.core.windows.net/folder",
        ],
    )


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim ``az://``, ``abfs://`` and ``abfss://`` URLs."""
    if not isinstance(source, str) or source.partition("://")[0].lower() not in SCHEMES:
        return None
    from codeferry_azure.container import AzureBlobStorageContainer

    return AzureBlobStorageContainer.from_url(source)
