"""What a storage is: the base class every code storage implements, and what a pull reports.

A plugin author writes :meth:`CodeStorage.fetch` (fill an empty folder with the code, reusing
unchanged files from the previous pull), :meth:`CodeStorage.to_pull_step` and ``__str__``. Where
the code lands, locking, the atomic switch to the new version, cleanup of old versions and repair
after an interrupted pull are done by :mod:`codeferry.checkouts` for every storage alike.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import PushNotSupportedError
from codeferry.paths import safe_join, safe_relative_path

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from codeferry.reuse import Stamp, VersionFiles

__all__ = [
    "CodeStorage",
    "DelegatingStorage",
    "FetchResult",
    "PullContext",
    "PullResult",
    "PushResult",
]


@dataclass(frozen=True)
class FetchResult:
    """What :meth:`CodeStorage.fetch` did.

    :param version: identifies the code pulled (a commit, a digest, a manifest hash).
    :param files: files transferred from storage (not those reused from the previous pull).
    :param bytes: bytes transferred from storage.
    :param state: JSON-serialisable notes for the next pull (ETags, checksums), handed back as
        :attr:`PullContext.previous_state`.
    :param unchanged: the storage holds the version already checked out; the folder is discarded.
    """

    version: str
    files: int = 0
    bytes: int = 0
    state: Mapping[str, Any] = field(default_factory=dict)
    unchanged: bool = False


@dataclass(frozen=True)
class PullResult:
    """Where pulled code is and what it is.

    ``directory`` is the version's own folder: it does not change under a running program when a
    later pull switches the checkout to a newer version.
    """

    directory: Path
    version: str
    files: int
    bytes: int
    changed: bool
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "version": self.version,
            "files": self.files,
            "bytes": self.bytes,
            "changed": self.changed,
            "source": self.source,
        }


@dataclass(frozen=True)
class PushResult:
    """What a push sent: where to, which version, how many files and bytes were uploaded."""

    destination: str
    version: str
    files: int
    bytes: int


@dataclass(frozen=True)
class PullContext:
    """What :meth:`CodeStorage.fetch` gets: an empty folder to fill, and the previous pull.

    :param target: an empty folder; the new version of the code goes here. Join storage paths
        with :meth:`path_for`, never by hand.
    :param previous: the folder of the version checked out now, or ``None`` on a first pull.
        Read-only: reuse its files with :meth:`reuse`, never change them.
    :param previous_version: the version checked out now.
    :param previous_state: the ``state`` the previous :class:`FetchResult` returned.
    :param cache_dir: a folder kept between pulls of this checkout (a git object store, say).
    :param previous_files: the size and modification time of each file of ``previous`` when it
        was committed (see :func:`codeferry.reuse.seal`); a file that no longer matches (edited in
        place) is never reused, and one without a record neither.
    """

    target: Path
    previous: Path | None
    previous_version: str | None
    previous_state: Mapping[str, Any]
    cache_dir: Path
    previous_files: Mapping[str, Sequence[int]] = field(default_factory=dict)
    _reuser: VersionFiles | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.previous is not None:
            from codeferry.reuse import VersionFiles

            reuser = VersionFiles(self.previous, self.previous_files)
            object.__setattr__(self, "_reuser", reuser)

    def path_for(self, path: str) -> Path:
        """The file in :attr:`target` for a ``/``-separated path from storage; parents created.

        :raises UnsafePathError: when ``path`` would land outside the target.
        """
        destination = safe_join(self.target, path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        return destination

    def reuse(self, path: str) -> bool:
        """Put the previous version's ``path`` into the target, as it was when committed.

        The versions stay independent (see :mod:`codeferry.reuse`): a reflink, a hard link to a
        read-only file, or a copy.

        :returns: ``False`` when the previous version has no such file, or it changed since it
            was committed: fetch it from storage then.
        :raises UnsafePathError: when ``path`` would land outside the target.
        """
        if self._reuser is None:
            return False
        relative = safe_relative_path(path).as_posix()
        if relative not in self.previous_files:
            return False
        return self._reuser.put(relative, str(self.path_for(relative)))

    def reuse_many(self, files: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """:meth:`reuse` many files at once, for storages that write thousands of files.

        :param files: ``(path, destination)`` pairs: a normalised ``/``-separated path and the
            file in :attr:`target` it goes to, joined safely by the caller (its folder exists).
        :returns: the pairs not reused (gone or changed in the previous version).
        :raises FileExistsError: when a destination exists already (it is never replaced).
        """
        if self._reuser is None:
            return list(files)
        return self._reuser.put_many(files)

    def reused_files(self) -> Mapping[str, tuple[int, Stamp]] | None:
        """The files :meth:`reuse` placed so far (inode and stamp, by path); ``None``: no reuse."""
        return None if self._reuser is None else self._reuser.placed

    def unchanged(self) -> FetchResult:
        """The result to return when storage holds exactly the previous version."""
        return FetchResult(
            version=self.previous_version or "",
            state=self.previous_state,
            unchanged=True,
        )


class CodeStorage(abc.ABC):
    """Somewhere code is stored: a folder, a repository, a bucket, an image.

    Subclasses implement :meth:`fetch`, :meth:`to_pull_step` and ``__str__``, and may implement
    :meth:`push_code`. A storage that is also configuration people save by name inherits from
    :class:`~codeferry.Block` as well: ``class S3Bucket(CodeStorage, Block)``.
    """

    @abc.abstractmethod
    def fetch(self, context: PullContext) -> FetchResult:
        """Write the code into ``context.target``; reuse what did not change since the last pull.

        Raise :class:`~codeferry.errors.PullError` (never a message containing a secret) when the
        code cannot be fetched; whatever was written is discarded and the current version stays.
        """

    @abc.abstractmethod
    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        """The deployment-file step that pulls the same code, as ``{step_name: {arguments}}``.

        Credentials appear as block references (``{{ blocks.SLUG.NAME }}``), never as values.
        """

    @abc.abstractmethod
    def __str__(self) -> str:
        """Where the code is, for people and logs; never contains a secret."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def push_code(self, source_dir: str | Path) -> PushResult:  # noqa: ARG002 - the API's name
        """Upload the code in ``source_dir`` to this storage.

        :raises PushNotSupportedError: for storages that cannot receive code.
        """
        raise PushNotSupportedError(f"{self} cannot receive code")

    def checkout_key(self) -> str:
        """What identifies this storage's default checkout; storages at one place share one."""
        return f"{type(self).__module__}.{type(self).__qualname__} {self}"

    def pull_code(
        self, destination: str | Path | None = None, *, keep: int = 3, replace: bool = False
    ) -> PullResult:
        """Pull the code into ``destination`` (default: this storage's checkout in the home folder).

        The new version is built beside the current one and switched to atomically; a pull that
        fails leaves the current version as it was. ``keep`` old versions are kept (and any
        still in use by a running program). A ``destination`` holding the checkout of another
        source is refused unless ``replace`` is given.
        """
        from codeferry.checkouts import Checkout

        return Checkout.for_storage(self, destination, keep=keep).pull(self, replace=replace)


class DelegatingStorage(CodeStorage):
    """A storage whose work is done by another: a block that describes a plain storage object.

    A storage block (a pydantic model) costs its model's import and build; a pull from a source
    string (``codeferry pull ./flows``), run as a whole process before every flow run, need not
    pay that. So a plugin may write the transfer as a plain :class:`CodeStorage` built from a
    few values, return that from ``storage_from_source`` for strings, and make its block a
    ``DelegatingStorage`` whose :meth:`delegate` builds the same object from the block's fields::

        class LocalDirectory(DelegatingStorage, Block):
            path: str

            def delegate(self) -> LocalFolder:
                return LocalFolder(self.path)

    The block and the plain object then pull into the same checkout (``checkout_key`` is the
    plain object's) and behave alike.
    """

    @abc.abstractmethod
    def delegate(self) -> CodeStorage:
        """The plain storage that does the work, built from this object's current values."""

    def fetch(self, context: PullContext) -> FetchResult:
        return self.delegate().fetch(context)

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return self.delegate().to_pull_step()

    def __str__(self) -> str:
        return str(self.delegate())

    def push_code(self, source_dir: str | Path, **options: Any) -> PushResult:
        # Options the delegate's push takes (ignore_file...) pass through.
        return self.delegate().push_code(source_dir, **options)

    def checkout_key(self) -> str:
        return self.delegate().checkout_key()
