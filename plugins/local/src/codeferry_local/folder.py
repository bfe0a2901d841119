"""A local folder as code storage: incremental copies into versioned checkouts.

:class:`LocalFolder` is a plain object, so a pull from a path (``codeferry run ./flows ...``)
imports no model library; the block :class:`~codeferry_local.storage.LocalDirectory` hands its
work to one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.digests import sha256
from codeferry.errors import PullError, PushError, describe_os_error
from codeferry.home import refuse_own_folder
from codeferry.paths import safe_join
from codeferry.progress import TransferProgress
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult
from codeferry.walk import walk_files

if TYPE_CHECKING:
    from collections.abc import Iterator

    from codeferry.remote import Manifest

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
        if _is_bare_repository(root):
            # Its files are git's database, not code: copying them is never what was meant.
            raise PullError(
                f"folder {root} is a bare git repository, not a folder of code; pull it from the"
                " server that serves it (codeferry-git: https://, ssh:// or git:// URLs), or pull"
                " a clone of it"
            )
        with TransferProgress(f"pull {root}") as progress:
            return self._fetch(root, context, progress)

    def _fetch(self, root: Path, context: PullContext, progress: TransferProgress) -> FetchResult:
        before: dict[str, list[Any]] = dict(context.previous_state.get("files", {}))
        now = {rel: [st.st_size, st.st_mtime_ns] for rel, st in _walk(root)}
        if (
            context.previous is not None
            and now.keys() == before.keys()
            and all(now[rel] == before[rel][:2] for rel in now)
        ):
            return context.unchanged()
        progress.expect(files=len(now), total_bytes=sum(size for size, _ in now.values()))
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
            progress.advance(size, files=1)
        version = sha256(
            "".join(f"{rel}\0{entry[2]}\n" for rel, entry in sorted(manifest.items())).encode()
        ).hexdigest()
        return FetchResult(version=version, files=files, bytes=copied, state={"files": manifest})

    def push_code(self, source_dir: str | Path, *, ignore_file: str | None = None) -> PushResult:
        """Copy ``source_dir`` into this folder: changed files copied, then a manifest.

        The files are those of :func:`codeferry.ignore.files_to_push` (tooling folders and what
        the ignore files list are left out). As with every push, only the files the previous push
        wrote (its manifest, :data:`~codeferry.remote.MANIFEST_NAME`) and the new one does not
        send are removed: files someone else put in the folder stay. codeferry's own folders (its
        home, checkouts) are never written to.
        """
        source = Path(source_dir)
        if not source.is_dir():
            raise PushError(f"cannot push {source}: it is not a folder")
        try:
            return self._push(source, Path(str(self)), ignore_file)
        except OSError as error:
            raise PushError(f"cannot push {source} to {self}: {describe_os_error(error)}") from None

    def _push(self, source: Path, target: Path, ignore_file: str | None) -> PushResult:
        from codeferry.ignore import files_to_push
        from codeferry.remote import MANIFEST_NAME, Manifest

        refuse_own_folder(target)
        local = files_to_push(source, ignore_file)
        manifest = Manifest.of_files(local)
        previous = _read_manifest(target / MANIFEST_NAME)
        target.mkdir(parents=True, exist_ok=True)
        files = sent = 0
        stats = {rel: path.stat() for rel, path in local.items()}
        total = sum(st.st_size for st in stats.values())
        with TransferProgress(f"push {target}", files=len(local), total_bytes=total) as progress:
            for rel, path in local.items():
                st = stats[rel]
                progress.advance(st.st_size, files=1)
                destination = target / rel
                try:
                    current = destination.stat()
                    if (current.st_size, current.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                        continue
                except FileNotFoundError:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
                files, sent = files + 1, sent + st.st_size
        for rel in previous.stale(local):
            _remove(target, rel)
        _write_atomically(target / MANIFEST_NAME, manifest.to_bytes())
        return PushResult(str(self), manifest.version, files, sent)


def _read_manifest(path: Path) -> Manifest:
    """The manifest the previous push wrote; an empty one when there is none to trust."""
    from codeferry.remote import Manifest

    try:
        return Manifest.parse(path.read_bytes())
    except FileNotFoundError:
        return Manifest({})
    except ValueError:
        # Not ours, or damaged: then nothing is known to be ours to delete.
        return Manifest({})


def _remove(target: Path, rel: str) -> None:
    """Delete the file ``rel`` a previous push wrote, and the folders it leaves empty."""
    from codeferry.errors import UnsafePathError

    try:
        path = safe_join(target, rel)
    except UnsafePathError:
        return  # a manifest naming a path outside the folder was not written by a push
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    for parent in path.parents:
        if parent == target:
            break
        try:
            parent.rmdir()
        except OSError:
            break  # not empty, or gone


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every file under ``root`` (:func:`~codeferry.walk.walk_files`) but a push's manifest."""
    for relative, entry in walk_files(root, _not_the_manifest):
        yield relative, entry.stat()


def _not_the_manifest(path: str, is_dir: bool) -> bool:
    from codeferry.remote import MANIFEST_NAME

    return not is_dir and path == MANIFEST_NAME


def _hash(path: Path) -> str:
    import hashlib  # OpenSSL's: faster over file contents, loaded only when files are hashed

    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: Path, destination: Path) -> str:
    """Copy ``source`` to ``destination`` and return its SHA-256; an error names its file."""
    import hashlib  # OpenSSL's: faster over file contents, loaded only when files are hashed

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


def _is_bare_repository(root: Path) -> bool:
    """Whether ``root`` is laid out as a bare git repository (``HEAD``, ``objects/``, ``refs/``)."""
    return (root / "HEAD").is_file() and (root / "objects").is_dir() and (root / "refs").is_dir()
