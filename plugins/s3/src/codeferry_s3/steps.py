"""Deployment-file steps for S3, with Prefect's arguments and outputs.

Registered under Prefect's names too (``prefect_aws.deployments.steps.pull_from_s3`` and
``push_to_s3``), so an existing ``prefect.yaml`` runs unchanged: ``credentials`` is the dictionary
a ``{{ prefect.blocks.aws-credentials.NAME }}`` reference expands to, or a typed block.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeferry_s3.bucket import S3Bucket
from codeferry_s3.credentials import (
    AwsCredentials,
    MinIOCredentials,
    credentials_from_step_argument,
)

__all__ = ["pull_from_s3", "push_to_s3"]


def pull_from_s3(
    bucket: str,
    folder: str = "",
    credentials: AwsCredentials | MinIOCredentials | Mapping[str, Any] | None = None,
    client_parameters: Mapping[str, Any] | None = None,
    *,
    destination: str | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Pull the code in ``folder`` of ``bucket`` into a checkout (parallel, incremental, atomic).

    Outputs: ``bucket``, ``folder``, ``directory`` (where the code is), ``version``, and the
    ``files`` and ``bytes`` downloaded.
    """
    storage = S3Bucket(
        bucket_name=bucket,
        bucket_folder=folder,
        credentials=credentials_from_step_argument(credentials, client_parameters),
    )
    result = storage.pull_code(destination, replace=replace)
    return {"bucket": bucket, "folder": folder, **result.as_dict()}


def push_to_s3(
    bucket: str,
    folder: str = "",
    credentials: AwsCredentials | MinIOCredentials | Mapping[str, Any] | None = None,
    client_parameters: Mapping[str, Any] | None = None,
    ignore_file: str | None = ".prefectignore",
    *,
    source: str | None = None,
) -> dict[str, Any]:
    """Push the working directory (or ``source``) to ``folder`` of ``bucket``: changed files only.

    ``.git``, ``__pycache__`` and ``.venv`` are never pushed, nor what ``.codeferryignore`` or
    ``ignore_file`` list (gitignore syntax).

    Outputs: ``bucket``, ``folder``, ``version``, and the ``files`` and ``bytes`` uploaded.
    """
    storage = S3Bucket(
        bucket_name=bucket,
        bucket_folder=folder,
        credentials=credentials_from_step_argument(credentials, client_parameters),
    )
    result = storage.push_code(Path(source or Path.cwd()), ignore_file=ignore_file)
    return {
        "bucket": bucket,
        "folder": folder,
        "version": result.version,
        "files": result.files,
        "bytes": result.bytes,
    }
