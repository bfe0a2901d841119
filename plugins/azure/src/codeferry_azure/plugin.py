"""The hooks of codeferry-azure, made from its declaration (adlfs is imported on use)."""

from __future__ import annotations

from codeferry.remote import ObjectStore


class Azure(ObjectStore):
    """a folder in an Azure Blob Storage container (credentials from the environment, such as
    AZURE_STORAGE_CONNECTION_STRING)"""

    examples = (
        "az://container/folder",
        "abfs://container/folder",
        "abfss://container@account.dfs.core.windows.net/folder",
    )
    schemes = ("az", "abfs", "abfss")
    folder = "codeferry_azure.container:AzureBlobStorageContainer"
    steps = ("pull_from_azure_blob_storage", "push_to_azure_blob_storage")
    prefect_steps = "prefect_azure.deployments.steps"
    quick_lister = "codeferry_azure.quick_listing:folder_listing"


register_block_types, register_steps, register_source_kinds, storage_from_source = Azure.hooks()
