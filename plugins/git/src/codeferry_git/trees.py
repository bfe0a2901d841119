"""Writing a commit's tree from dulwich's object store into a plain folder (no index, no ``.git``).

Tree entries are untrusted: every name is held to :mod:`codeferry_git.tree_rules` and every path
joined with :func:`codeferry.paths.safe_join`; a ``.git`` entry is left out, as git never checks
one out (:func:`codeferry.paths.is_git_name`); files are created exclusively (never through an
existing path); symbolic links are made last and each must resolve inside the folder. A file whose
blob and mode are the same as in the previous pull's tree is reused from the previous version
instead of written (:meth:`codeferry.PullContext.reuse_many`).
"""

from __future__ import annotations

import os
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, NoReturn

from codeferry.errors import PullError
from codeferry_git.blobs import CHUNK, BlobLocation, BlobReader, CorruptObjectError
from codeferry_git.object_ids import object_id
from codeferry_git.tree_rules import (
    Gitlink,
    WriteStats,
    is_left_out,
    is_safe_name,
)

if TYPE_CHECKING:
    from dulwich.object_store import BaseObjectStore

    from codeferry_git.clients import PullTrees

__all__ = ["Gitlink", "TreeWriter", "WriteStats"]

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_WRITERS = 4
_BATCH = 256
_BATCH_BYTES = 8 << 20
_BLOB = 3
_TREE = 2
_COMMIT = 1
_TAG = 4
_GITLINK = 0o160000
# A file to put in place: its path in the tree, its path on disk, its blob, whether executable.
_FileEntry = tuple[str, str, str, bool]


class TreeWriter:
    """Writes trees from a store into the folder of ``trees``, the pull's.

    ``trees`` says where (its target is shared with the other writers of the same pull, the
    symbolic links made by whichever calls :meth:`finish`) and which folders: when its cone
    names some, only those are written, in the manner of git's cone-mode sparse checkout.
    """

    def __init__(self, trees: PullTrees) -> None:
        context = trees.context
        self._store: BaseObjectStore | None = None
        self._context = context
        self._label = trees.target.label
        self._root = context.target
        self._target = trees.target
        self._previous = str(context.previous) if context.previous is not None else None
        self._cone = trees.cone

    # -- walking -------------------------------------------------------------------------------

    def write(
        self, store: BaseObjectStore, tree: str, previous_tree: str | None, prefix: str = ""
    ) -> WriteStats:
        """Write ``tree`` from ``store`` at ``prefix`` (``""`` for the root).

        ``previous_tree`` is the tree the previous version was written from at the same place:
        files it has with the same blob and mode are reused rather than written.
        Returns counts and the submodules met (not written).
        """
        self._store = store
        stats = WriteStats()
        writes: list[_FileEntry] = []
        links: list[_FileEntry] = []
        stack = [(prefix, tree, previous_tree, self._cone.root(prefix))]
        while stack:
            folder, tree_sha, old_sha, scope = stack.pop()
            base = str(self._target.file_path(folder)) if folder else str(self._root)
            entries = self._entries(tree_sha)
            old = dict(self._entries(old_sha)) if old_sha and object_id(old_sha) in store else {}
            for name, (mode, sha) in entries:
                path = f"{folder}/{name}" if folder else name
                if stat.S_ISDIR(mode):
                    sub_scope = self._cone.scope(path) if scope == "cone" else scope
                    if sub_scope is None:
                        continue
                    self._target.directory(path)
                    previous = old.get(name)
                    old_sub = previous[1] if previous and stat.S_ISDIR(previous[0]) else None
                    stack.append((path, sha, old_sub, sub_scope))
                    continue
                if mode == _GITLINK:
                    if scope == "cone" and self._cone.scope(path) is None:
                        continue
                    self._target.directory(path)
                    previous = old.get(name)
                    was = previous[1] if previous and previous[0] == _GITLINK else None
                    stats.gitlinks.append(Gitlink(path, sha, was))
                    continue
                target = f"{base}/{name}"  # a string: a Path per file costs more than its link
                if stat.S_ISLNK(mode):
                    self._target.symlink(path, self._blob(sha, path))
                elif self._previous is not None and old.get(name) == (mode, sha):
                    links.append((path, target, sha, bool(mode & 0o111)))
                else:
                    writes.append((path, target, sha, bool(mode & 0o111)))
        stats.reused, missing = self._link_previous(links)
        stats.files, stats.bytes = self._write_blobs(writes + missing)
        return stats

    def finish(self) -> None:
        """Make the symbolic links met so far, then check each resolves inside the folder."""
        self._target.finish()

    # -- pieces --------------------------------------------------------------------------------

    def _entries(self, tree_sha: str | None) -> list[tuple[str, tuple[int, str]]]:
        if not tree_sha:
            return []
        from dulwich.objects import parse_tree

        assert self._store is not None
        try:
            type_num, raw = self._store.get_raw(object_id(tree_sha))
        except KeyError:
            raise PullError(
                f"git repository {self._label}: tree {tree_sha} is missing (the server did not "
                "send it)"
            ) from None
        if type_num != _TREE:
            raise PullError(f"git repository {self._label}: object {tree_sha} is not a tree")
        entries = []
        for name, mode, sha in parse_tree(raw, len(tree_sha) // 2):
            text = name.decode("utf-8", "surrogateescape")
            if not is_safe_name(name):
                self._refuse(text, "is not a safe file name")
            if is_left_out(name):
                continue
            entries.append((text, (mode, sha.decode("ascii"))))
        return entries

    def _link_previous(self, links: list[_FileEntry]) -> tuple[int, list[_FileEntry]]:
        """Reuse each file (same blob and mode) from the previous version, a few batches at once
        (see :meth:`~codeferry.PullContext.reuse_many`).

        Returns how many are in place and the files to write instead (gone from the previous
        version, or changed there since it was committed).
        """
        if not links:
            return 0, []
        entries: dict[tuple[str, str], _FileEntry] = {}
        for entry in links:
            if entries.setdefault((entry[0], entry[1]), entry) is not entry:
                self._refuse(entry[0], "appears twice in its tree")
        try:
            left = self._context.reuse_many(list(entries))
        except FileExistsError as error:
            self._refuse(str(error.filename), "appears twice in its tree")
        return len(links) - len(left), [entries[place] for place in left]

    def _refuse(self, path: str, reason: str) -> NoReturn:
        self._target.refuse(path, reason)

    def _blob(self, sha: str, path: str) -> bytes:
        """The whole content of blob ``sha`` (a link target, a deltified file)."""
        assert self._store is not None
        try:
            type_num, raw = self._store.get_raw(object_id(sha))
        except KeyError:
            self._refuse(path, f"is missing from the repository (object {sha} was not sent)")
        if type_num != _BLOB:
            self._refuse(path, f"is not a file (object {sha} is not a blob)")
        return raw

    def _write_blobs(self, writes: list[_FileEntry]) -> tuple[int, int]:
        """Write the blobs; reading is done here, the writing by a few threads (syscalls).

        A blob stored whole is read by :class:`~codeferry_git.blobs.BlobReader`: a big one is
        streamed into its file by a writer thread, a chunk at a time. At most a few batches of
        small files wait for a writer, so memory stays bounded whatever the repository's size.
        """
        if not writes:
            return 0, 0
        assert self._store is not None
        wanted: dict[str, list[tuple[str, str, bool]]] = {}
        for path, target, sha, executable in writes:
            wanted.setdefault(sha, []).append((path, target, executable))
        total = 0
        with BlobReader(self._store) as reader, ThreadPoolExecutor(_WRITERS) as pool:
            pending: deque[Future[str | None]] = deque()
            batch: list[tuple[str, str, bytes, bool]] = []
            batch_bytes = 0

            def submit(future: Future[str | None]) -> None:
                pending.append(future)
                while len(pending) > 2 * _WRITERS:  # writers behind: wait, rather than hold more
                    self._check_written(pending.popleft())

            for sha, places in wanted.items():
                location = self._locate(reader, sha, places[0][0])
                if location is not None and location.size > CHUNK:
                    for path, target, executable in places:
                        submit(
                            pool.submit(_write_stream, reader, location, path, target, executable)
                        )
                        total += location.size
                    continue
                data = (
                    self._blob(sha, places[0][0])
                    if location is None
                    else self._read_small(reader, location, places[0][0])
                )
                for path, target, executable in places:
                    batch.append((path, target, data, executable))
                    total += len(data)
                    batch_bytes += len(data)
                if len(batch) >= _BATCH or batch_bytes >= _BATCH_BYTES:
                    submit(pool.submit(_write_batch, batch))
                    batch, batch_bytes = [], 0
            submit(pool.submit(_write_batch, batch))
            while pending:
                self._check_written(pending.popleft())
        return len(writes), total

    def _locate(self, reader: BlobReader, sha: str, path: str) -> BlobLocation | None:
        try:
            return reader.locate(sha)
        except KeyError:
            self._refuse(path, f"is missing from the repository (object {sha} was not sent)")
        except CorruptObjectError as error:
            self._refuse(path, f"cannot be read: {error}")
        except ValueError:
            self._refuse(path, f"is not a file (object {sha} is not a blob)")

    def _read_small(self, reader: BlobReader, location: BlobLocation, path: str) -> bytes:
        try:
            return b"".join(reader.chunks(location))
        except CorruptObjectError as error:
            self._refuse(path, f"cannot be read: {error}")

    def _check_written(self, future: Future[str | None]) -> None:
        try:
            duplicate = future.result()
        except CorruptObjectError as error:
            raise PullError(f"git repository {self._label}: {error}") from None
        if duplicate is not None:
            self._refuse(duplicate, "appears twice in its tree")


def _create(target: str, executable: bool) -> int | None:
    """Create ``target`` exclusively; ``None`` when it exists (a path twice in its tree)."""
    try:
        return os.open(target, _WRITE_FLAGS, 0o777 if executable else 0o666)
    except FileExistsError:
        return None


def _write_all(descriptor: int, data: bytes, target: str) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(descriptor, view) :]
        except OSError as error:  # disk full, say: name the file
            raise OSError(error.errno, error.strerror, target) from None


def _write_stream(
    reader: BlobReader, location: BlobLocation, path: str, target: str, executable: bool
) -> str | None:
    """Write one big blob a chunk at a time; returns ``path`` if it already existed."""
    descriptor = _create(target, executable)
    if descriptor is None:
        return path
    try:
        for chunk in reader.chunks(location):
            _write_all(descriptor, chunk, target)
    finally:
        os.close(descriptor)
    return None


def _write_batch(batch: list[tuple[str, str, bytes, bool]]) -> str | None:
    """Write each file exclusively; returns the first path that already existed, if any."""
    for path, target, data, executable in batch:
        descriptor = _create(target, executable)
        if descriptor is None:
            return path
        try:
            _write_all(descriptor, data, target)
        finally:
            os.close(descriptor)
    return None
