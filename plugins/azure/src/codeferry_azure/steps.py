"""Deployment-file steps for Azure Blob Storage, with Prefect's arguments and outputs.

Made by the object-store base from
:class:`~codeferry_azure.container.AzureBlobStorageContainer`'s declaration, and registered under
Prefect's names too (``prefect_azure.deployments.steps.*``), so an existing ``prefect.yaml`` runs
unchanged: ``credentials`` is the dictionary a
``{{ prefect.blocks.azure-blob-storage-credentials.NAME }}`` reference expands to, or a typed block.
"""

from __future__ import annotations

from codeferry_azure.container import AzureBlobStorageContainer

__all__ = ["pull_from_azure_blob_storage", "push_to_azure_blob_storage"]

pull_from_azure_blob_storage, push_to_azure_blob_storage = AzureBlobStorageContainer.steps()
