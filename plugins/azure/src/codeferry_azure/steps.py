"""Deployment-file steps for Azure Blob Storage, with Prefect's arguments and outputs.

Registered under Prefect's names too (``prefect_azure.deployments.steps.*``), so an existing
``prefect.yaml`` runs unchanged: ``credentials`` is the dictionary a
``{{ prefect.blocks.azure-blob-storage-credentials.NAME }}`` reference expands to, or a typed block.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeferry_azure.container import AzureBlobStorageContainer
from codeferry_azure.credentials import AzureBlobStorageCredentials

__all__ = ["pull_from_azure_blob_storage", "push_to_azure_blob_storage"]


def pull_from_azure_blob_storage(
    container: str,
    folder: str = "",
    credentials: AzureBlobStorageCredentials | Mapping[str, Any] | None = None,
    *,
    destination: str | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Pull the code in ``folder`` of ``container`` into a checkout (parallel, incremental, atomic).

    Outputs: ``container``, ``folder``, ``directory`` (where the code is), ``version``, and the
    ``files`` and ``bytes`` downloaded.
    """
    storage = AzureBlobStorageContainer(
        container_name=container,
        base_folder=folder,
        credentials=AzureBlobStorageCredentials.from_step_argument(credentials),
    )
    result = storage.pull_code(destination, replace=replace)
    return {"container": container, "folder": folder, **result.as_dict()}


def push_to_azure_blob_storage(
    container: str,
    folder: str = "",
    credentials: AzureBlobStorageCredentials | Mapping[str, Any] | None = None,
    ignore_file: str | None = ".prefectignore",
    *,
    source: str | None = None,
) -> dict[str, Any]:
    """Push the current folder (or ``source``) to ``folder`` of ``container``: changed files only.

    ``.git``, ``__pycache__`` and ``.venv`` are never pushed, nor what ``.codeferryignore`` or
    ``ignore_file`` list (gitignore syntax).

    Outputs: ``container``, ``folder``, ``version``, and the ``files`` and ``bytes`` uploaded.
    """
    storage = AzureBlobStorageContainer(
        container_name=container,
        base_folder=folder,
        credentials=AzureBlobStorageCredentials.from_step_argument(credentials),
    )
    result = storage.remote().push_code(Path(source or Path.cwd()))
    return {
        "container": container,
        "folder": folder,
        "version": result.version,
        "files": result.files,
        "bytes": result.bytes,
    }
