"""The remote engine's own plugin: any folder at a URL an installed fsspec filesystem opens.

Built in, registered like any other plugin (under the name ``remote``), and asked last for a
source: backends with a plugin of their own (``s3://`` and the others) claim theirs first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry.hookspecs import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterSourceKind, RegisterStep


@hookimpl
def register_steps(register: RegisterStep) -> None:
    """Pulls and pushes by URL: Prefect's ``pull_from_remote_storage`` and its push twin."""
    from codeferry.remote.steps import pull_from_remote_storage, push_to_remote_storage

    register(
        pull_from_remote_storage,
        aliases=[
            "prefect.deployments.steps.pull_from_remote_storage",
            "prefect.deployments.steps.pull.pull_from_remote_storage",
            # where codeferry 0.1 kept it: files its to_pull_step() wrote name it so
            "codeferry.steps.remote.pull_from_remote_storage",
        ],
    )
    register(push_to_remote_storage)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "fsspec",
        description="a folder at any URL an installed fsspec filesystem understands",
        examples=["memory://flows", "sftp://host/srv/flows"],
    )


# Schemes fsspec knows that are not folders of code: web pages, archives, wrappers of other URLs.
_NOT_FOLDERS = frozenset(
    {
        "http", "https", "zip", "tar", "libarchive", "reference", "cached", "blockcache",
        "filecache", "simplecache", "dir", "jupyter", "generic",
    }
)  # fmt: skip


@hookimpl(trylast=True)
def storage_from_source(source: object) -> object | None:
    """Any other ``PROTOCOL://`` URL fsspec has a filesystem for, through the remote engine.

    Asked after every plugin (backends with their own plugin, such as ``s3://``, are theirs; a
    scheme whose plugin is known but not installed is left alone so the install hint shows).
    """
    if not isinstance(source, str) or "://" not in source:
        return None
    from codeferry.known_plugins import distribution_for_source

    scheme = source.split("://", 1)[0].lower()
    if scheme in _NOT_FOLDERS or distribution_for_source(source) is not None:
        return None
    from fsspec.registry import known_implementations, registry

    if scheme not in registry and scheme not in known_implementations:
        return None
    from codeferry.remote import RemoteStorage

    return RemoteStorage(source)
