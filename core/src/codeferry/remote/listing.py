"""What a remote folder holds: one flat listing of its files, folder markers left out.

Every fsspec backend describes a file with its own keys (``ETag`` on S3, ``md5Hash`` on GCS,
``content_settings.content_md5`` on Azure). This module reduces them to :class:`RemoteFile`: a
size, a *fingerprint* that changes whenever the content does, and the content's MD5 where the store
gives one that can be trusted. It imports neither fsspec nor asyncio until a folder is listed
through a filesystem: a store's own quick listing is reduced here too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeferry.paths import is_git_path
from codeferry.remote.manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "MANIFEST_NAME",
    "RemoteFile",
    "content_md5",
    "fingerprint",
    "folder_prefix",
    "has_read_checksum",
    "is_folder_marker",
    "list_folder",
    "listing_version",
    "remote_files",
]

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
# S3 server-side encryption with KMS or customer keys makes the ETag something other than an MD5.
_OPAQUE_ETAG_ENCRYPTION = {"aws:kms", "aws:kms:dsse"}
_LISTING_CONNECTIONS = 16
_TIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "created")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a remote folder.

    :param path: its ``/``-separated path inside the folder, exactly as stored (not yet checked:
        join it with :meth:`~codeferry.PullContext.path_for`).
    :param key: its path for the filesystem (``bucket/folder/path`` on object stores).
    :param size: its size in bytes.
    :param fingerprint: a value that changes whenever its content changes (ETag, generation,
        modification time); ``None`` when the store gives none, so it is always downloaded.
    :param md5: the hex MD5 of its content when the store gives one that is exactly that.
    :param checked_on_read: the filesystem's client checks a checksum of the content whenever it
        reads the whole file, and fails the read on a mismatch: the engine need not hash it again.
    """

    path: str
    key: str
    size: int
    fingerprint: str | None
    md5: str | None
    checked_on_read: bool = False


def is_folder_marker(entry: Mapping[str, Any]) -> bool:
    """Whether a listing entry stands for a folder rather than a file.

    Zero-byte keys ending in ``/`` (what consoles create for "new folder"), entries typed
    ``directory``, and ADLS Gen2 blobs carrying ``hdi_isfolder`` metadata.
    """
    if entry.get("type") == "directory":
        return True
    name = str(entry.get("name", entry.get("Key", "")))
    if name.endswith("/") and not entry.get("size"):
        return True
    metadata = entry.get("metadata")
    return isinstance(metadata, Mapping) and str(metadata.get("hdi_isfolder", "")).lower() == "true"


def content_md5(entry: Mapping[str, Any]) -> str | None:
    """The hex MD5 of the content, when the entry gives one that is exactly that.

    S3's ETag is the MD5 for single-part uploads without KMS or customer-key encryption; a
    multipart ETag (``"...-3"``) is not. GCS gives ``md5Hash`` (base64), Azure ``content_md5``.
    """
    settings = entry.get("content_settings")  # a mapping, or the SDK's ContentSettings
    for holder in (entry, settings):
        if isinstance(holder, Mapping):
            raw = holder.get("content_md5")
        else:
            raw = getattr(holder, "content_md5", None)
        if isinstance(raw, bytes | bytearray) and len(raw) == 16:
            return bytes(raw).hex()
    encoded = entry.get("md5Hash")
    if isinstance(encoded, str):
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 16:
            return raw.hex()
    etag = entry.get("ETag")
    if isinstance(etag, str):
        if entry.get("ServerSideEncryption") in _OPAQUE_ETAG_ENCRYPTION:
            return None
        if entry.get("SSECustomerAlgorithm"):
            return None
        candidate = etag.strip('"').lower()
        if _MD5_HEX.match(candidate):
            return candidate
    return None


def has_read_checksum(entry: Mapping[str, Any]) -> bool:
    """Whether the store keeps a checksum of the whole content that a read can be checked with.

    S3 lists ``ChecksumAlgorithm`` for objects uploaded with one (every SDK's default since 2025);
    a multipart object's checksum is of its parts (``ChecksumType: COMPOSITE``) and checks no read.
    """
    algorithms = entry.get("ChecksumAlgorithm")
    return bool(algorithms) and entry.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"


def fingerprint(entry: Mapping[str, Any]) -> str | None:
    """A string that changes whenever the entry's content does, or ``None`` if none is given."""
    for key in ("ETag", "etag", "generation"):
        value = entry.get(key)
        if value:
            return f"{key}:{str(value).strip(chr(34))}"
    md5 = content_md5(entry)
    if md5:
        return f"md5:{md5}"
    for key in _TIME_KEYS:
        value = entry.get(key)
        if value:
            return f"{key}:{value}"
    return None


def folder_prefix(root: str) -> str:
    """What every key inside the folder ``root`` starts with (``bucket/code`` → ``bucket/code/``).

    The separator is part of the prefix, so ``code`` never matches ``code-old/``.
    """
    return root if root.endswith("/") else root + "/"


def list_folder(
    fs: AbstractFileSystem,
    root: str,
    *,
    by_folder: bool = False,
    by_folder_after: float | None = None,
    read_checksums: bool = False,
) -> dict[str, RemoteFile]:
    """Every file under the folder ``root`` of ``fs``, by its path inside the folder.

    One recursive listing (``find``), with the filesystem's listing cache dropped first so that a
    long-lived process sees what the store holds now. Folder markers, anything not strictly
    inside the folder (``code-old/`` beside ``code/``) and git's folder
    (:func:`codeferry.paths.is_git_path`) are left out.

    :param by_folder: on an async filesystem, list the folder's own entries, then each of its
        sub-folders on a connection of its own, all at once. Object stores page through a flat
        listing a thousand keys at a time, one page after the other: this is quicker for large
        folders, and it takes two round trips where a flat listing of up to a thousand takes one.
    :param by_folder_after: on an async filesystem, when a flat listing is still paging after
        this many seconds, list by sub-folder beside it and keep whichever finishes first.
    :param read_checksums: the client checks the checksum a file is listed with
        (:func:`has_read_checksum`) on every read: such files are ``checked_on_read``.
    :raises FileNotFoundError: when the bucket or container does not exist (as the backend says).
    """
    from codeferry.remote import internals

    fs.invalidate_cache(root)
    entries: Mapping[str, Mapping[str, Any]]
    if internals.is_async(fs):
        from codeferry.remote.transfer import run_on_loop

        if by_folder:
            entries = run_on_loop(fs, _find_in_parallel(fs, root))
        else:
            entries = run_on_loop(fs, _find_flat(fs, root, by_folder_after))
    else:
        entries = fs.find(root, detail=True, withdirs=False)
    return remote_files(entries, root, read_checksums=read_checksums)


def remote_files(
    entries: Mapping[str, Mapping[str, Any]], root: str, *, read_checksums: bool = False
) -> dict[str, RemoteFile]:
    """The files of the folder ``root`` that a listing's ``entries`` describe, by path inside it.

    ``entries`` are as fsspec's ``find(root, detail=True)`` gives them, by name (each entry's
    ``name`` is the key with its bucket, ``bucket/folder/path``). Folder markers, anything not
    strictly inside the folder and git's folder are left out (see :func:`list_folder`).
    """
    prefix = folder_prefix(root)
    files: dict[str, RemoteFile] = {}
    for name, entry in entries.items():
        key = str(entry.get("name", name))
        if not key.startswith(prefix) or key == prefix or is_folder_marker(entry):
            continue
        path = key[len(prefix) :]
        if is_git_path(path):
            continue
        files[path] = RemoteFile(
            path=path,
            key=key,
            size=int(entry.get("size") or 0),
            fingerprint=fingerprint(entry),
            md5=content_md5(entry),
            checked_on_read=read_checksums and has_read_checksum(entry),
        )
    return _without_marker_files(files)


def _without_marker_files(files: dict[str, RemoteFile]) -> dict[str, RemoteFile]:
    """``files`` without empty ones that are also a folder of others.

    Some backends (adlfs) list a folder marker ``code/lib/`` as ``code/lib``: a file and a folder
    cannot share a name on disk, and an empty file there is a marker, not code.
    """
    folders = {parent for path in files for parent in _parents(path)}
    return {
        path: remote for path, remote in files.items() if not (remote.size == 0 and path in folders)
    }


def _parents(path: str) -> Iterator[str]:
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


async def _find_flat(
    fs: Any, root: str, by_folder_after: float | None
) -> Mapping[str, Mapping[str, Any]]:
    """A flat ``find``, raced after ``by_folder_after`` seconds by one by sub-folder."""
    import asyncio

    from codeferry.remote import internals

    if by_folder_after is None:
        return await internals.find(fs, root)
    flat = asyncio.ensure_future(internals.find(fs, root))
    done, _ = await asyncio.wait({flat}, timeout=by_folder_after)
    if flat in done:
        return flat.result()
    by_folder = asyncio.ensure_future(_find_in_parallel(fs, root))
    done, running = await asyncio.wait({flat, by_folder}, return_when=asyncio.FIRST_COMPLETED)
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    # Both may end at once (two timeouts rounded to the same second, as aiohttp rounds them):
    # take a listing if either has one, and look at every failure, so none is left unretrieved.
    ended = [task for task in (flat, by_folder) if task in done]
    failures = [task.exception() for task in ended]
    for task, failure in zip(ended, failures, strict=True):
        if failure is None:
            return task.result()
    assert failures[0] is not None
    raise failures[0]


async def _find_in_parallel(
    fs: Any, root: str, connections: int = _LISTING_CONNECTIONS
) -> dict[str, Mapping[str, Any]]:
    """``find`` as one delimited listing of the folder, then each sub-folder listed at once.

    Listing the sub-folders side by side takes about as long as the largest of them.
    """
    import asyncio

    from codeferry.remote import internals

    try:
        top = await internals.list_entries(fs, root)
    except FileNotFoundError:
        return {}
    if top and all(str(entry.get("name", "")).rstrip("/") == root.rstrip("/") for entry in top):
        # Only the folder's own marker (a "folder/" blob): adlfs lists that instead of what
        # the folder holds. One flat listing finds the files.
        return dict(await internals.find(fs, root))
    found = {str(entry["name"]): entry for entry in top if entry.get("type") != "directory"}
    folders = [str(entry["name"]) for entry in top if entry.get("type") == "directory"]
    gate = asyncio.Semaphore(connections)

    async def below(folder: str) -> Mapping[str, Mapping[str, Any]]:
        async with gate:
            return await internals.find(fs, folder)

    for entries in await asyncio.gather(*(below(folder) for folder in folders)):
        found.update(entries)
    return found


def listing_version(files: Mapping[str, RemoteFile]) -> str:
    """A version for a folder without a manifest: the hash of its paths, sizes and fingerprints."""
    digest = hashlib.sha256()
    for path in sorted(files):
        remote = files[path]
        digest.update(f"{path}\0{remote.size}\0{remote.fingerprint or ''}\n".encode())
    return digest.hexdigest()
