"""A local folder as code storage: incremental copies into versioned checkouts.

:class:`LocalFolder` is a plain object, so a pull from a path (``codeferry run ./flows ...``)
imports no model library; the block :class:`~codeferry_local.storage.LocalDirectory` hands its
work to one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import PullError, PushError, describe_os_error
from codeferry.home import refuse_own_folder
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult
from codeferry.walk import walk_files

if TYPE_CHECKING:
    from collections.abc import Iterator

# Folders that are tooling state, never code to ship.
SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", ".nox", ".tox", ".mypy_cache"})
_CHUNK = 1 << 20


class LocalFolder(CodeStorage):
    """A folder on this machine that holds code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __str__(self) -> str:
        # Resolved, so that ../flows and /srv/flows are one source (and one checkout).
        return os.path.realpath(Path(self.path).expanduser())

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"codeferry_local.steps.pull_from_directory": {"path": str(self)}}

    def checkout_key(self) -> str:
        # The block's name, as before there were two classes: checkouts made then are reused,
        # and a folder pulled by path or by block is one checkout.
        return f"codeferry_local.storage.LocalDirectory {self}"

    def fetch(self, context: PullContext) -> FetchResult:
        root = Path(str(self))
        if not root.is_dir():
            raise PullError(f"folder {root} does not exist")
        before: dict[str, list[Any]] = dict(context.previous_state.get("files", {}))
        now = {rel: [st.st_size, st.st_mtime_ns] for rel, st in _walk(root)}
        if (
            context.previous is not None
            and now.keys() == before.keys()
            and all(now[rel] == before[rel][:2] for rel in now)
        ):
            return context.unchanged()
        files, copied, manifest = 0, 0, {}
        for rel, (size, mtime) in sorted(now.items()):
            old = before.get(rel)
            # A file touched but identical is found by reading it: a read beats a copy.
            same = old is not None and (
                old[:2] == [size, mtime] or (old[0] == size and _hash(root / rel) == old[2])
            )
            if old is not None and same and context.reuse(rel):
                digest = old[2]
            else:
                digest = _copy_hashing(root / rel, context.path_for(rel))
                files, copied = files + 1, copied + size
            manifest[rel] = [size, mtime, digest]
        version = hashlib.sha256(
            "".join(f"{rel}\0{entry[2]}\n" for rel, entry in sorted(manifest.items())).encode()
        ).hexdigest()
        return FetchResult(version=version, files=files, bytes=copied, state={"files": manifest})

    def push_code(self, source_dir: str | Path) -> PushResult:
        """Mirror ``source_dir`` into this folder: changed files copied, deleted ones removed.

        codeferry's own folders (its home, checkouts) are neither sent nor removed.
        """
        source = Path(source_dir)
        try:
            return self._mirror(source, Path(str(self)))
        except OSError as error:
            raise PushError(f"cannot push {source} to {self}: {describe_os_error(error)}") from None

    def _mirror(self, source: Path, target: Path) -> PushResult:
        refuse_own_folder(target)
        target.mkdir(parents=True, exist_ok=True)
        wanted = dict(_walk(source))
        files = sent = 0
        for rel, st in wanted.items():
            destination = target / rel
            try:
                current = destination.stat()
                if (current.st_size, current.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                    continue
            except FileNotFoundError:
                destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, destination)
            files, sent = files + 1, sent + st.st_size
        for rel, _ in list(_walk(target)):
            if rel not in wanted:
                (target / rel).unlink()
        digest = hashlib.sha256("".join(sorted(wanted)).encode()).hexdigest()
        return PushResult(str(self), digest, files, sent)


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every file under ``root`` (:func:`~codeferry.walk.walk_files`), tooling folders left out."""
    for relative, entry in walk_files(root, lambda path, is_dir: is_dir and _skipped(path)):
        yield relative, entry.stat()


def _skipped(path: str) -> bool:
    return path.rpartition("/")[2] in SKIPPED_DIRS


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: Path, destination: Path) -> str:
    """Copy ``source`` to ``destination`` and return its SHA-256; an error names its file."""
    digest = hashlib.sha256()
    with source.open("rb") as reader:
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            while True:
                try:
                    chunk = reader.read(_CHUNK)
                except OSError as error:
                    raise _naming(error, source) from None
                if not chunk:
                    break
                digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    try:
                        view = view[os.write(descriptor, view) :]
                    except OSError as error:
                        raise _naming(error, destination) from None
        finally:
            os.close(descriptor)
    shutil.copystat(source, destination)
    return digest.hexdigest()


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` with ``path`` as its file, when it names none (a failed read or write)."""
    if error.filename is not None:
        return error
    return OSError(error.errno, error.strerror, str(path))
