"""Deployment-file steps for Google Cloud Storage, with Prefect's arguments and outputs.

Registered under Prefect's names too (``prefect_gcp.deployments.steps.*``), so an existing
``prefect.yaml`` runs unchanged: ``credentials`` is the dictionary a
``{{ prefect.blocks.gcp-credentials.NAME }}`` reference expands to, or a typed block. Unlike
Prefect's steps, an explicit ``project`` is honoured (it wins over the credentials' project).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeferry_gcs.bucket import GcsBucket
from codeferry_gcs.credentials import GcpCredentials

__all__ = ["pull_from_gcs", "push_to_gcs"]


def _bucket(
    bucket: str,
    folder: str,
    project: str | None,
    credentials: GcpCredentials | Mapping[str, Any] | None,
    endpoint_url: str | None,
) -> GcsBucket:
    typed = GcpCredentials.from_step_argument(credentials) or GcpCredentials()
    if project:
        typed = typed.model_copy(update={"project": project})
    return GcsBucket(
        bucket=bucket, bucket_folder=folder, gcp_credentials=typed, endpoint_url=endpoint_url
    )


def pull_from_gcs(
    bucket: str,
    folder: str = "",
    project: str | None = None,
    credentials: GcpCredentials | Mapping[str, Any] | None = None,
    *,
    destination: str | None = None,
    replace: bool = False,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Pull the code in ``folder`` of ``bucket`` into a checkout (parallel, incremental, atomic).

    Outputs: ``bucket``, ``folder``, ``directory`` (where the code is), ``version``, and the
    ``files`` and ``bytes`` downloaded.
    """
    storage = _bucket(bucket, folder, project, credentials, endpoint_url)
    result = storage.pull_code(destination, replace=replace)
    return {"bucket": bucket, "folder": folder, **result.as_dict()}


def push_to_gcs(
    bucket: str,
    folder: str = "",
    project: str | None = None,
    credentials: GcpCredentials | Mapping[str, Any] | None = None,
    ignore_file: str | None = ".prefectignore",
    *,
    source: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Push the current folder (or ``source``) to ``folder`` of ``bucket``: changed files only.

    ``.git``, ``__pycache__`` and ``.venv`` are never pushed, nor what ``.codeferryignore`` or
    ``ignore_file`` list (gitignore syntax).

    Outputs: ``bucket``, ``folder``, ``version``, and the ``files`` and ``bytes`` uploaded.
    """
    storage = _bucket(bucket, folder, project, credentials, endpoint_url)
    result = storage.remote().push_code(Path(source or Path.cwd()))
    return {
        "bucket": bucket,
        "folder": folder,
        "version": result.version,
        "files": result.files,
        "bytes": result.bytes,
    }
