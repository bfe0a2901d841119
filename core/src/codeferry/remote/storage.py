"""A folder on any fsspec filesystem as code storage: parallel, incremental, verified pulls.

:class:`RemoteStorage` is the engine the S3, GCS and Azure plugins (and any fsspec URL such as
``memory://`` or ``sftp://``) pull and push through; the plugins only turn their credentials into
fsspec storage options.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import (
    CodeferryError,
    PullError,
    PushError,
    UnsafePathError,
    describe_os_error,
)
from codeferry.remote import internals
from codeferry.remote.download import DownloadJob, IntegrityError, download_files
from codeferry.remote.listing import (
    MANIFEST_NAME,
    RemoteFile,
    folder_prefix,
    list_folder,
    listing_version,
)
from codeferry.remote.manifest import Manifest, ManifestEntry
from codeferry.remote.progress import TransferProgress
from codeferry.remote.state import is_unchanged, listing_state
from codeferry.remote.transfer import (
    TransferError,
    TransferSettings,
    call_with_retries,
    describe,
)
from codeferry.remote.upload import UploadJob, upload_files
from codeferry.secrets import (
    is_secret_name,
    redact_url,
    remember,
    remember_named,
    split_url_credentials,
)
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult
from codeferry.timeouts import is_timeout, network_timeouts

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["PULL_STEP", "RemoteStorage"]

PULL_STEP = "codeferry.remote.steps.pull_from_remote_storage"

log = logging.getLogger(__name__)

# One page of keys: a flat listing takes one round trip, one by sub-folder two. Past it, the pages
# of a flat listing come one after the other, the sub-folders at once. (Against moto, which serves
# one request at a time, 2,000 files re-pull in 0.56-0.70 s either way.)
_FLAT_LISTING_MAX = 1_000
# A flat listing still paging after this long (two to five pages on S3) is raced by one by
# sub-folder: a folder never pulled before may hold any number of files.
_BY_FOLDER_AFTER = 0.5


class RemoteStorage(CodeStorage):
    """The code in one folder of an fsspec filesystem.

    ``RemoteStorage("s3://bucket/flows", key=..., secret=...)`` pulls what is under
    ``bucket/flows/`` (and nothing beside it, such as ``bucket/flows-old/``).

    :param url: an fsspec URL of the folder (``s3://bucket/folder``, ``memory://code``,
        ``file:///srv/code``); the folder may be the whole bucket.
    :param storage_options: passed to the fsspec filesystem as they are (credentials, endpoint,
        region). Values under names that look like credentials are never shown.
    :param filesystem: an fsspec filesystem to use instead of building one from ``url`` and
        ``storage_options`` (the URL's protocol is then only used for display).
    :param connections: transfers in flight at once (default 64).
    :param attempts: tries per file and per listing before the pull or push fails (default 4);
        one that timed out is tried twice at most (see :mod:`codeferry.timeouts`).
    :param stall_timeout: seconds a download may receive nothing before it is retried (default:
        ``CODEFERRY_READ_TIMEOUT``). The filesystem's client should be given the same limits
        (:func:`codeferry.timeouts.network_timeouts`) for everything else it waits on.
    :param server: the server the filesystem talks to, as named when it stops answering
        (``"S3 endpoint minio.local:9000"``; default ``"the server"``).
    :param progress: ``True``/``False`` to force the progress bar on or off; by default it is
        shown on a terminal for long transfers.
    :param flat_listing: list a folder that held at most 1,000 files at the last pull (or was
        never pulled) in one flat listing: one round trip per thousand keys; should it still be
        paging after half a second, a listing by sub-folder starts beside it, and the first to
        finish is used. A larger folder, or any when this is ``False``, is listed one sub-folder
        per connection (see :func:`~codeferry.remote.listing.list_folder`). Turn it off for a
        backend whose flat listing cannot tell a folder marker from an empty file (adlfs).
    :param read_checksums: the filesystem's client checks the checksum each file is listed with
        on every read, failing the read on a mismatch (botocore does for S3 objects listed with a
        ``ChecksumAlgorithm``, with ``response_checksum_validation="when_supported"``). The
        engine then does not hash those files' MD5 itself: about 0.15 s of CPU per 100 MB.

    Pulls (through :meth:`~codeferry.CodeStorage.pull_code`):

    - list the folder once; when every file's fingerprint (ETag, generation) is what the last pull
      recorded, nothing is downloaded (:meth:`~codeferry.PullContext.unchanged`);
    - otherwise download new and changed files in parallel, streamed to disk, and hard-link the
      unchanged ones from the previous version; deleted files are simply not in the new tree;
    - check every file's size, its MD5 where the store gives one (unless the client checks a
      checksum on read: ``read_checksums``), and its SHA-256 where the
      manifest written by :meth:`push_code` lists it; the version is the manifest's when it
      describes the folder exactly, else a hash of the listing;
    - refuse keys that would land outside the destination (``..``, absolute) with
      :class:`~codeferry.errors.UnsafePathError`; fail with :class:`~codeferry.errors.PullError`
      after bounded retries; the current tree is never touched.
    """

    def __init__(
        self,
        url: str,
        *,
        filesystem: AbstractFileSystem | None = None,
        connections: int = 64,
        attempts: int = 4,
        stall_timeout: float | None = None,
        server: str | None = None,
        progress: bool | None = None,
        flat_listing: bool = True,
        read_checksums: bool = False,
        **storage_options: Any,
    ) -> None:
        from codeferry.blocks import Secret

        self._url = url
        self._flat_listing = flat_listing
        self._read_checksums = read_checksums
        # Options given as secret blocks: their values reach fsspec; a pull step names the block.
        self._secret_blocks = {
            name: value for name, value in storage_options.items() if isinstance(value, Secret)
        }
        storage_options = {
            name: value.get() if name in self._secret_blocks else value
            for name, value in storage_options.items()
        }
        self._storage_options = storage_options
        self._filesystem = filesystem
        self._root: str | None = None
        self.timeouts = network_timeouts()
        self.settings = TransferSettings(
            connections=connections,
            attempts=attempts,
            stall_timeout=stall_timeout if stall_timeout is not None else self.timeouts.read,
        )
        self.server = server
        self.progress = progress
        _, _, url_secret = split_url_credentials(url)
        from_blocks = [str(self._storage_options[name]) for name in self._secret_blocks]
        self._secrets = [
            *_secret_values(storage_options),
            *from_blocks,
            *([url_secret] if url_secret else []),
        ]
        remember(*self._secrets)
        remember_named(storage_options)

    # -- what it is ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The folder's URL, credentials in it masked."""
        return redact_url(self._url)

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    def __eq__(self, other: object) -> bool:
        """The same folder with the same options (as Prefect's ``RemoteStorage`` compares)."""
        if not isinstance(other, RemoteStorage) or type(other) is not type(self):
            return NotImplemented
        return (self._url, self._storage_options) == (other._url, other._storage_options)

    def __hash__(self) -> int:
        return hash(self.checkout_key())

    @property
    def filesystem(self) -> AbstractFileSystem:
        """The fsspec filesystem (built on first use; fsspec and the backend imported then).

        :raises CodeferryError: for an unknown protocol, naming the library to install.
        """
        if self._filesystem is None or self._root is None:
            self._filesystem, self._root = self._connect()
        return self._filesystem

    @property
    def root(self) -> str:
        """The folder's path on :attr:`filesystem` (``bucket/folder`` on object stores)."""
        if self._root is None:
            _ = self.filesystem
        assert self._root is not None
        return self._root

    def _connect(self) -> tuple[AbstractFileSystem, str]:
        import fsspec.core

        if self._filesystem is not None:
            path = internals.strip_protocol(self._filesystem, self._url)
            return self._filesystem, _folder_path(path)
        try:
            fs, path = fsspec.core.url_to_fs(self._url, **self._storage_options)
        except ImportError as error:
            raise CodeferryError(f"cannot open {self}: {describe(error, self._secrets)}") from None
        except (ValueError, TypeError) as error:
            raise CodeferryError(f"cannot open {self}: {describe(error, self._secrets)}") from None
        return fs, _folder_path(str(path))

    def checkout_key(self) -> str:
        public = json.dumps(_public_options(self._storage_options), sort_keys=True, default=str)
        digest = hashlib.sha256(public.encode()).hexdigest()[:16]
        return f"{type(self).__module__}.{type(self).__qualname__} {self.url} {digest}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        """``pull_from_remote_storage`` with the URL and the storage options.

        An option given as a saved :class:`~codeferry.blocks.Secret` block is written as a
        reference to it (``{{ blocks.secret.NAME }}``), as Prefect writes its ``Secret`` blocks.

        :raises CodeferryError: when the URL or the options hold credentials by value, or name a
            secret block that is not saved (a step file names secrets by block, never holds them).
        """
        arguments: dict[str, Any] = {"url": self._url}
        for name, block in self._secret_blocks.items():
            if not block.block_name:
                raise CodeferryError(
                    f"save the secret block given as {name!r} to {self} first: a pull step "
                    "refers to secrets by block name, never by value"
                )
            arguments[name] = f"{{{{ blocks.{block.block_type_slug}.{block.block_name} }}}}"
        plain = {k: v for k, v in self._storage_options.items() if k not in self._secret_blocks}
        _, _, url_secret = split_url_credentials(self._url)
        if url_secret or _secret_values(plain) or _public_options(plain) != plain:
            raise CodeferryError(
                f"{self} is configured with credentials; write its pull step by hand with "
                "{{ blocks.SLUG.NAME }} references instead of the values"
            )
        return {PULL_STEP: {**arguments, **plain}}

    # -- pulling -------------------------------------------------------------------------------

    def list_files(self, *, expected_files: int = 0) -> dict[str, RemoteFile]:
        """Every file in the folder (the manifest included), by path inside the folder.

        :param expected_files: how many the last listing held, if known; it picks the quicker
            way to list (see ``flat_listing``).
        :raises PullError: when the folder cannot be listed (after retries).
        """
        fs = self.filesystem
        by_folder = not self._flat_listing or expected_files > _FLAT_LISTING_MAX
        try:
            return call_with_retries(
                self.settings,
                str(self),
                lambda: list_folder(
                    fs,
                    self.root,
                    by_folder=by_folder,
                    by_folder_after=_BY_FOLDER_AFTER,
                    read_checksums=self._read_checksums,
                ),
            )
        except TransferError as error:
            raise self._error(PullError, "cannot list", error) from None

    def fetch(
        self, context: PullContext, *, listing: Mapping[str, RemoteFile] | None = None
    ) -> FetchResult:
        """Pull the folder into ``context``.

        :param listing: what the folder holds, when it was just listed another way (a folder's
            :meth:`~codeferry.remote.ObjectStoreFolder.quick_listing`); listed here otherwise.
        """
        if listing is None:
            listing = self.list_files(expected_files=len(context.previous_state.get("files") or {}))
        listing = dict(listing)
        state = listing_state(listing)
        manifest_file = listing.pop(MANIFEST_NAME, None)
        if not listing:
            raise PullError(f"{self} holds no files; check the bucket and folder names")
        if is_unchanged(context, state):
            return context.unchanged()

        manifest = self._read_manifest(manifest_file)
        self._check_paths(context, listing)
        before: Mapping[str, Any] = context.previous_state.get("files") or {}
        jobs: list[DownloadJob] = []
        for path, remote in sorted(listing.items()):
            if _same_content(before.get(path), remote) and context.reuse(path):
                continue
            entry = manifest.files.get(path) if manifest else None
            expected = entry.sha256 if entry is not None and entry.describes(remote) else None
            jobs.append(DownloadJob(remote, context.path_for(path), expected))

        total = sum(job.remote.size for job in jobs)
        with TransferProgress(f"pull {self}", len(jobs), total, self.progress) as progress:
            try:
                download_files(self.filesystem, jobs, self.settings, progress)
            except TransferError as error:
                raise self._error(PullError, "cannot pull", error) from None
        version = (
            manifest.version
            if manifest is not None and manifest.matches(listing)
            else listing_version(listing)
        )
        return FetchResult(version=version, files=len(jobs), bytes=total, state=state)

    def _check_paths(self, context: PullContext, listing: Mapping[str, RemoteFile]) -> None:
        """Refuse the whole listing if any key is unsafe, or two keys land on one file."""
        seen: dict[Path, str] = {}
        for path in sorted(listing):
            try:
                target = context.path_for(path)
            except UnsafePathError as error:
                raise UnsafePathError(f"refusing to pull from {self}: {error}") from None
            if target in seen:
                raise UnsafePathError(
                    f"refusing to pull from {self}: keys {seen[target]!r} and {path!r} "
                    "name the same file"
                )
            seen[target] = path
        folders = {parent for target in seen for parent in target.parents}
        clashes = sorted(seen[target] for target in seen if target in folders)
        if clashes:
            raise UnsafePathError(
                f"refusing to pull from {self}: {clashes[0]!r} is both a file and a folder"
            )

    def _read_manifest(self, manifest_file: RemoteFile | None) -> Manifest | None:
        if manifest_file is None:
            return None
        fs = self.filesystem
        try:
            data = call_with_retries(
                self.settings, MANIFEST_NAME, lambda: fs.cat_file(manifest_file.key)
            )
            return Manifest.parse(data)
        except (TransferError, ValueError) as error:
            # An unreadable manifest costs only the end-to-end check: sizes and MD5s still hold.
            log.warning(
                "ignoring %s of %s: %s", MANIFEST_NAME, self, describe(error, self._secrets)
            )
            return None

    # -- pushing -------------------------------------------------------------------------------

    def push_code(self, source_dir: str | Path, *, ignore_file: str | None = None) -> PushResult:
        """Upload the code in ``source_dir`` to this folder: only what changed, in parallel.

        The files are those of :func:`codeferry.ignore.files_to_push` (tooling folders and what
        ``.codeferryignore``, ``.prefectignore`` or ``ignore_file``, a file in ``source_dir``,
        list are left out). Files the previous push wrote that are gone locally are deleted
        (:meth:`Manifest.stale <codeferry.remote.Manifest.stale>`); other objects in the folder
        are left alone. A manifest (:data:`MANIFEST_NAME`) is written last; its hash is the
        version.

        :raises PushError: when the folder cannot be listed or a file cannot be sent.
        """
        from codeferry.ignore import files_to_push

        source = Path(source_dir)
        if not source.is_dir():
            raise PushError(f"cannot push {source}: it is not a folder")
        try:
            local = files_to_push(source, ignore_file)
            if not local:
                raise PushError(f"cannot push {source}: it holds no files to send")
            manifest = Manifest.of_files(local)
        except OSError as error:
            raise PushError(f"cannot push {source}: {describe_os_error(error)}") from None

        fs = self.filesystem
        try:
            listing = call_with_retries(
                self.settings, str(self), lambda: _list_or_empty(fs, self.root)
            )
        except TransferError as error:
            raise self._error(PushError, "cannot list", error) from None
        manifest_file = listing.pop(MANIFEST_NAME, None)
        previous = self._read_manifest(manifest_file) or Manifest({})

        prefix = folder_prefix(self.root)
        jobs = [
            UploadJob(path, local[path], prefix + path, entry.size)
            for path, entry in manifest.files.items()
            if not _already_there(entry, listing.get(path), previous.files.get(path))
        ]
        stale = [listing[path].key for path in previous.stale(local) if path in listing]
        total = sum(job.size for job in jobs)
        with TransferProgress(f"push {self}", len(jobs), total, self.progress) as progress:
            try:
                upload_files(fs, jobs, self.settings, progress)
                if stale:
                    call_with_retries(self.settings, str(self), lambda: fs.rm(stale))
                call_with_retries(
                    self.settings,
                    MANIFEST_NAME,
                    lambda: fs.pipe_file(prefix + MANIFEST_NAME, manifest.to_bytes()),
                )
            except TransferError as error:
                raise self._error(PushError, "cannot push to", error) from None
        return PushResult(str(self), manifest.version, len(jobs), total)

    # -- errors --------------------------------------------------------------------------------

    def _error(
        self, kind: type[CodeferryError], action: str, error: TransferError
    ) -> CodeferryError:
        """A one-line error naming the store, the file and the cause, secrets masked."""
        cause = error.cause
        where = str(self) if error.path in {str(self), ""} else f"{self} ({error.path})"
        detail = describe(error, self._secrets)
        if is_timeout(cause):
            # The client's own words add only a request URL: the server is named already.
            server = self.server or "the server"
            tries = f" (tried {error.attempts} times)" if error.attempts > 1 else ""
            return kind(f"{action} {where}: {self.timeouts.describe(server, cause)}{tries}")
        if isinstance(cause, PermissionError):
            reason = "access denied; check the credentials"
        elif isinstance(cause, FileNotFoundError):
            reason = "not found; check the bucket and folder names"
        elif isinstance(cause, IntegrityError):
            reason = f"the download was corrupt {error.attempts} times"
        elif error.attempts > 1:
            reason = f"failed after {error.attempts} attempts"
        else:
            reason = "failed"
        return kind(f"{action} {where}: {reason} ({detail})")


def _same_content(recorded: Any, remote: RemoteFile) -> bool:
    """Whether the last pull recorded this file as it is listed now.

    By fingerprint (ETag, generation), or by MD5 when only the fingerprint changed: a tool that
    uploads everything again (a sync, Prefect's push) gives new ETags to unchanged content.
    """
    if not isinstance(recorded, list) or len(recorded) < 2 or recorded[1] != remote.size:
        return False
    if remote.fingerprint and recorded[0] == remote.fingerprint:
        return True
    return remote.md5 is not None and len(recorded) > 2 and recorded[2] == remote.md5


def _already_there(
    entry: ManifestEntry, remote: RemoteFile | None, pushed: ManifestEntry | None
) -> bool:
    """Whether the store already holds this content: by MD5, or as the last push left it."""
    if remote is None or remote.size != entry.size:
        return False
    if remote.md5 is not None:
        return remote.md5 == entry.md5
    return pushed is not None and pushed == entry and pushed.describes(remote)


def _list_or_empty(fs: AbstractFileSystem, root: str) -> dict[str, RemoteFile]:
    """A push may create the folder: a missing one lists as empty (a missing bucket fails later)."""
    try:
        return list_folder(fs, root)
    except FileNotFoundError:
        return {}


def _folder_path(path: str) -> str:
    stripped = path.rstrip("/")
    return stripped or path


def _public_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without the values that are (or may hold) credentials."""
    public: dict[str, Any] = {}
    for name, value in options.items():
        if is_secret_name(name):  # never shown, never put into a pull step
            continue
        if isinstance(value, Mapping):
            public[name] = _public_options(value)
        elif value is None or isinstance(value, str | int | float | bool | list | tuple):
            public[name] = value
    return public


def _secret_values(options: Mapping[str, Any]) -> list[str]:
    """Every string under an option name that looks like a credential, nested ones included."""
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found.extend(_secret_values(value))
        elif isinstance(value, str) and is_secret_name(name):
            found.append(value)
    return found
