"""Code in a folder of any fsspec filesystem: the engine behind the S3, GCS and Azure plugins.

A plugin for an object store only turns its credentials into fsspec storage options::

    from codeferry.remote import RemoteStorage

    storage = RemoteStorage("s3://bucket/flows", key="...", secret="...")
    storage.pull_code()          # parallel, incremental, verified, atomic
    storage.push_code("./flows")  # changed files only, then a manifest

Importing this package imports nothing else: its names, fsspec and the backends are imported on
first use (the package's own plugin, :mod:`codeferry.remote.plugin`, is loaded at every start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "MANIFEST_NAME": "codeferry.remote.listing",
    "RemoteFile": "codeferry.remote.listing",
    "Manifest": "codeferry.remote.manifest",
    "ManifestEntry": "codeferry.remote.manifest",
    "RemoteStorage": "codeferry.remote.storage",
    "TransferSettings": "codeferry.remote.transfer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codeferry.remote' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
