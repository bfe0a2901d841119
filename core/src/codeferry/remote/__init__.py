"""Code in a folder of any fsspec filesystem: the engine behind the S3, GCS and Azure plugins.

A plugin for an object store only turns its credentials into fsspec storage options::

    from codeferry.remote import RemoteStorage

    storage = RemoteStorage("s3://bucket/flows", key="...", secret="...")
    storage.pull_code()          # parallel, incremental, verified, atomic
    storage.push_code("./flows")  # changed files only, then a manifest

Importing this package does not import fsspec or any backend; they are imported on first use.
"""

from __future__ import annotations

from codeferry.remote.listing import MANIFEST_NAME, RemoteFile
from codeferry.remote.manifest import Manifest, ManifestEntry
from codeferry.remote.storage import RemoteStorage
from codeferry.remote.transfer import TransferSettings

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "ManifestEntry",
    "RemoteFile",
    "RemoteStorage",
    "TransferSettings",
]
