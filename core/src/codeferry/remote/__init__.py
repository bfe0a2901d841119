"""Code in a folder of any fsspec filesystem: the engine behind the S3, GCS and Azure plugins.

Any fsspec URL, with its storage options::

    from codeferry.remote import RemoteStorage

    storage = RemoteStorage("s3://bucket/flows", key="...", secret="...")
    storage.pull_code()          # parallel, incremental, verified, atomic
    storage.push_code("./flows")  # changed files only, then a manifest

A plugin for an object store is a declaration: an :class:`ObjectStore` (its schemes, block types
and steps; the plugin's hooks come from it) and an :class:`ObjectStoreFolder` subclass (its
block's fields, under Prefect's names, and how to make its filesystem). See "Writing a plugin".

Importing this package imports nothing else: its names, fsspec and the backends are imported on
first use (the package's own plugin, :mod:`codeferry.remote.plugin`, is loaded at every start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codeferry.lazy_exports import LazyExports

if TYPE_CHECKING:
    from codeferry.remote.folder import ObjectStoreFolder
    from codeferry.remote.internals import library_changed
    from codeferry.remote.listing import RemoteFile
    from codeferry.remote.manifest import MANIFEST_NAME, Manifest, ManifestEntry
    from codeferry.remote.objectstore import ObjectStore
    from codeferry.remote.storage import RemoteStorage
    from codeferry.remote.transfer import TransferSettings

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "ManifestEntry",
    "ObjectStore",
    "ObjectStoreFolder",
    "RemoteFile",
    "RemoteStorage",
    "TransferSettings",
    "library_changed",
]

_EXPORTS = LazyExports(
    __name__,
    {
        "MANIFEST_NAME": "codeferry.remote.manifest",
        "RemoteFile": "codeferry.remote.listing",
        "Manifest": "codeferry.remote.manifest",
        "ManifestEntry": "codeferry.remote.manifest",
        "ObjectStore": "codeferry.remote.objectstore",
        "ObjectStoreFolder": "codeferry.remote.folder",
        "RemoteStorage": "codeferry.remote.storage",
        "TransferSettings": "codeferry.remote.transfer",
        "library_changed": "codeferry.remote.internals",
    },
    globals(),
)


def __getattr__(name: str) -> Any:
    return _EXPORTS.get(name)


def __dir__() -> list[str]:
    return sorted(__all__)
