"""Writing a commit's tree from the object store into a plain folder (no index, no ``.git``).

Tree entries are untrusted: every name is checked and every path joined with
:func:`codeferry.paths.safe_join`; files are created exclusively (never through an existing path);
symbolic links are made last and each must resolve inside the folder. A file whose blob and mode
are the same as in the previous pull's tree is hard-linked from the previous version instead of
written.
"""

from __future__ import annotations

import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from codeferry.errors import PullError, UnsafePathError
from codeferry.paths import safe_join
from codeferry_git.object_ids import object_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from dulwich.object_store import BaseObjectStore

    from codeferry.storage import PullContext

__all__ = ["Gitlink", "TreeWriter", "WriteStats"]

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_WRITERS = 4
_BATCH = 256
_PACK_WALK_THRESHOLD = 256
_BLOB = 3
_TREE = 2
_COMMIT = 1
_TAG = 4
_GITLINK = 0o160000
# A file to put in place: its path in the tree, its path on disk, its blob, whether executable.
_FileEntry = tuple[str, str, str, bool]
# The rules of codeferry.paths.safe_relative_path for one name, without building a path object
# per file (directories still go through safe_join): no separators, NUL, "", ".", ".." or ".git".
_UNSAFE_NAME = re.compile(rb"^$|^\.{1,2}$|[/\\\x00]|^[A-Za-z]:")
_FORBIDDEN_NAMES = {b".git"}


@dataclass(frozen=True)
class Gitlink:
    """A submodule entry met in a tree: where it goes and the commit it pins."""

    path: str
    commit: str
    previous_commit: str | None


@dataclass
class WriteStats:
    """What writing a tree did."""

    files: int = 0
    bytes: int = 0
    reused: int = 0
    gitlinks: list[Gitlink] = field(default_factory=list)


class TreeWriter:
    """Writes trees from ``store`` into ``context.target`` for the repository named ``label``.

    :param directories: when not empty, only these folders are written, in the manner of git's
        cone-mode sparse checkout: everything under them, plus the files directly in the root and
        in each folder on the way to them.
    """

    def __init__(
        self,
        context: PullContext,
        label: str,
        directories: Iterable[str] = (),
    ) -> None:
        self._store: BaseObjectStore | None = None
        self._context = context
        self._label = label
        self._root = context.target
        self._previous = str(context.previous) if context.previous is not None else None
        self._directories = tuple(sorted({d.strip("/") for d in directories if d.strip("/")}))
        self._symlinks: list[tuple[str, bytes]] = []

    # -- walking -------------------------------------------------------------------------------

    def write(
        self, store: BaseObjectStore, tree: str, previous_tree: str | None, prefix: str = ""
    ) -> WriteStats:
        """Write ``tree`` from ``store`` at ``prefix`` (``""`` for the root).

        ``previous_tree`` is the tree the previous version was written from at the same place:
        files it has with the same blob and mode are hard-linked rather than written.
        Returns counts and the submodules met (not written).
        """
        self._store = store
        stats = WriteStats()
        writes: list[_FileEntry] = []
        links: list[_FileEntry] = []
        stack = [
            (prefix, tree, previous_tree, "all" if not self._directories or prefix else "cone")
        ]
        while stack:
            folder, tree_sha, old_sha, scope = stack.pop()
            base = str(self._file_path(folder)) if folder else str(self._root)
            entries = self._entries(tree_sha)
            old = dict(self._entries(old_sha)) if old_sha and object_id(old_sha) in store else {}
            for name, (mode, sha) in entries:
                path = f"{folder}/{name}" if folder else name
                if stat.S_ISDIR(mode):
                    sub_scope = self._scope(path) if scope == "cone" else scope
                    if sub_scope is None:
                        continue
                    self._directory(path)
                    previous = old.get(name)
                    old_sub = previous[1] if previous and stat.S_ISDIR(previous[0]) else None
                    stack.append((path, sha, old_sub, sub_scope))
                    continue
                if mode == _GITLINK:
                    if scope == "cone" and self._scope(path) is None:
                        continue
                    self._directory(path)
                    previous = old.get(name)
                    was = previous[1] if previous and previous[0] == _GITLINK else None
                    stats.gitlinks.append(Gitlink(path, sha, was))
                    continue
                target = f"{base}/{name}"  # a string: a Path per file costs more than its link
                if stat.S_ISLNK(mode):
                    self._symlinks.append((path, self._blob(sha, path)))
                elif self._previous is not None and old.get(name) == (mode, sha):
                    links.append((path, target, sha, bool(mode & 0o111)))
                else:
                    writes.append((path, target, sha, bool(mode & 0o111)))
        stats.reused, missing = self._link_previous(links)
        stats.files, stats.bytes = self._write_blobs(writes + missing)
        return stats

    def finish(self) -> None:
        """Make the symbolic links met so far, then check each resolves inside the folder."""
        root = os.path.realpath(self._root)
        made = []
        for path, raw in self._symlinks:
            destination = self._file_path(path)
            link_target = raw.decode("utf-8", "surrogateescape")
            if not raw or b"\0" in raw or link_target.startswith("/"):
                self._refuse(path, f"is a symbolic link to {link_target!r}, outside the checkout")
            try:
                destination.symlink_to(link_target)
            except OSError as error:
                self._refuse(path, f"cannot be made a symbolic link ({error.strerror})")
            made.append((path, destination, link_target))
        for path, destination, link_target in made:
            resolved = os.path.realpath(destination)
            if resolved != root and not resolved.startswith(root + os.sep):
                self._refuse(path, f"is a symbolic link to {link_target!r}, outside the checkout")

    # -- pieces --------------------------------------------------------------------------------

    def _entries(self, tree_sha: str | None) -> list[tuple[str, tuple[int, str]]]:
        if not tree_sha:
            return []
        from dulwich.objects import parse_tree

        assert self._store is not None
        type_num, raw = self._store.get_raw(object_id(tree_sha))
        if type_num != _TREE:
            raise PullError(f"git repository {self._label}: object {tree_sha} is not a tree")
        entries = []
        for name, mode, sha in parse_tree(raw, len(tree_sha) // 2):
            text = name.decode("utf-8", "surrogateescape")
            if _UNSAFE_NAME.search(name) or name.lower() in _FORBIDDEN_NAMES or len(name) > 255:
                self._refuse(text, "is not a safe file name")
            entries.append((text, (mode, sha.decode("ascii"))))
        return entries

    def _link_previous(self, links: list[_FileEntry]) -> tuple[int, list[_FileEntry]]:
        """Hard-link each file (same blob and mode) from the previous version, a few batches at
        once: ``link`` waits for no Python lock, only for its own folder's.

        Returns how many are in place and the files to write instead (gone from the previous
        version). Where a link cannot be made (another filesystem) the file is copied.
        """
        if not links:
            return 0, []
        assert self._previous is not None
        link = partial(_link_batch, self._previous)
        with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
            failures = list(pool.map(link, _batches(links)))
        missing = []
        for entry, error in (failure for batch in failures for failure in batch):
            if isinstance(error, FileExistsError):
                self._refuse(entry[0], "appears twice in its tree")
            elif isinstance(error, FileNotFoundError) or not self._context.reuse(entry[0]):
                missing.append(entry)
        return len(links) - len(missing), missing

    def _scope(self, path: str) -> str | None:
        """How much of folder ``path`` a sparse checkout wants: all of it, its files, or none."""
        for wanted in self._directories:
            if path == wanted or path.startswith(wanted + "/"):
                return "all"
        if any(wanted.startswith(path + "/") for wanted in self._directories):
            return "cone"
        return None

    def _file_path(self, path: str) -> Path:
        try:
            return safe_join(self._root, path)
        except UnsafePathError as error:
            raise PullError(f"git repository {self._label} has an unsafe path: {error}") from None

    def _directory(self, path: str) -> None:
        directory = self._file_path(path)
        try:
            directory.mkdir()
        except FileExistsError:
            if directory.is_symlink() or not directory.is_dir():
                self._refuse(path, "appears twice in its tree")

    def _refuse(self, path: str, reason: str) -> NoReturn:
        raise PullError(f"git repository {self._label}: path {path!r} {reason}; refused")

    def _blob(self, sha: str, path: str) -> bytes:
        assert self._store is not None
        type_num, raw = self._store.get_raw(object_id(sha))
        if type_num != _BLOB:
            self._refuse(path, f"is not a file (object {sha} is not a blob)")
        return raw

    def _write_blobs(self, writes: list[_FileEntry]) -> tuple[int, int]:
        """Write the blobs; reading is done here, the writing by a few threads (syscalls).

        Many blobs are read by walking the packs once, which resolves each delta chain once;
        a few are looked up one by one.
        """
        if not writes:
            return 0, 0
        assert self._store is not None
        wanted: dict[bytes, list[tuple[str, str, bool]]] = {}
        for path, target, sha, executable in writes:
            wanted.setdefault(sha.encode(), []).append((path, target, executable))
        total = 0
        with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
            pending = []
            batch: list[tuple[str, str, bytes, bool]] = []

            def add(sha: bytes, data: bytes) -> None:
                nonlocal total, batch
                for path, target, executable in wanted.pop(sha):
                    batch.append((path, target, data, executable))
                    total += len(data)
                if len(batch) >= _BATCH:
                    pending.append(pool.submit(_write_batch, batch))
                    batch = []

            if len(wanted) >= _PACK_WALK_THRESHOLD:
                for pack in getattr(self._store, "packs", ()):
                    for obj in pack.iterobjects():
                        if obj.type_num == _BLOB and obj.id in wanted:
                            add(obj.id, obj.as_raw_string())
                    if not wanted:
                        break
            for blob_id, places in list(wanted.items()):
                add(blob_id, self._blob(blob_id.decode(), places[0][0]))
            pending.append(pool.submit(_write_batch, batch))
            for future in pending:
                duplicate = future.result()
                if duplicate is not None:
                    self._refuse(duplicate, "appears twice in its tree")
        return len(writes), total


def _batches(entries: list[_FileEntry]) -> Iterator[list[_FileEntry]]:
    for start in range(0, len(entries), _BATCH):
        yield entries[start : start + _BATCH]


def _link_batch(previous: str, batch: list[_FileEntry]) -> list[tuple[_FileEntry, OSError]]:
    """Hard-link ``previous/path`` to each target; returns the entries that failed, and why."""
    failed = []
    for entry in batch:
        try:
            os.link(f"{previous}/{entry[0]}", entry[1], follow_symlinks=False)
        except OSError as error:
            failed.append((entry, error))
    return failed


def _write_batch(batch: list[tuple[str, str, bytes, bool]]) -> str | None:
    """Write each file exclusively; returns the first path that already existed, if any."""
    for path, target, data, executable in batch:
        try:
            descriptor = os.open(target, _WRITE_FLAGS, 0o777 if executable else 0o666)
        except FileExistsError:
            return path
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)
    return None
