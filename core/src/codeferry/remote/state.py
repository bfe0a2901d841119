"""What a pull records of a folder's listing, and whether a later listing finds the same files.

The engine's :meth:`~codeferry.remote.RemoteStorage.fetch` and a folder's quick listing
(:meth:`~codeferry.remote.ObjectStoreFolder.quick_listing`) decide "nothing changed" with the same
rule, here; this module imports neither fsspec nor a store's SDK (nor pydantic).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from codeferry.remote.manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from codeferry.remote.listing import RemoteFile
    from codeferry.remote.storage import RemoteStorage
    from codeferry.storage import FetchResult, PullContext

__all__ = ["STATE_FORMAT", "fetch_folder", "is_unchanged", "listing_state"]

STATE_FORMAT = 1
"""The version of what :func:`listing_state` records; a state of another format never matches."""


def listing_state(listing: Mapping[str, RemoteFile]) -> dict[str, Any]:
    """What a pull records of ``listing`` (the manifest included): each file's fingerprint, size
    and MD5, and the manifest's fingerprint."""
    manifest = listing.get(MANIFEST_NAME)
    return {
        "format": STATE_FORMAT,
        "files": {
            path: [remote.fingerprint, remote.size, remote.md5]
            for path, remote in listing.items()
            if path != MANIFEST_NAME
        },
        "manifest": manifest.fingerprint if manifest else None,
    }


def is_unchanged(context: PullContext, state: Mapping[str, Any]) -> bool:
    """Whether ``state`` is what the checkout's current version was pulled with.

    Never when a file has no fingerprint: its content could have changed with nothing to show it.
    """
    files: Mapping[str, Any] = state["files"]
    return (
        context.previous is not None
        and all(fingerprint for fingerprint, _size, _md5 in files.values())
        and context.previous_state.get("format") == state["format"]
        and context.previous_state.get("files") == files
        and context.previous_state.get("manifest") == state["manifest"]
    )


def fetch_folder(
    context: PullContext,
    container: str,
    folder: str,
    quick_listing: Callable[[], Mapping[str, Mapping[str, Any]] | None],
    remote: Callable[[], RemoteStorage],
) -> FetchResult:
    """The pull of ``folder`` in ``container``: nothing but ``quick_listing()`` when it finds no
    change since the checkout's version, else the engine's (``remote()``, the SDK imported), from
    that listing."""
    listing = None
    if context.previous is not None:
        from codeferry.remote.listing import remote_files

        entries = quick_listing()
        if entries is not None:
            listing = remote_files(entries, f"{container}/{folder}".rstrip("/"))
            if is_unchanged(context, listing_state(listing)):
                return context.unchanged()
    return remote().fetch(context, listing=listing)
