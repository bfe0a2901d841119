"""Local folders as code storage: incremental copies into versioned checkouts."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from codeferry.blocks import Block
from codeferry.errors import PullError
from codeferry.storage import CodeStorage, FetchResult, PullContext, PushResult

if TYPE_CHECKING:
    from collections.abc import Iterator

# Folders that are tooling state, never code to ship.
SKIPPED_DIRS = frozenset({".git", "__pycache__", ".venv", ".nox", ".tox", ".mypy_cache"})
_CHUNK = 1 << 20


class LocalDirectory(CodeStorage, Block):
    """A folder on this machine that holds code."""

    block_type_slug: ClassVar[str] = "local-directory"
    path: str

    def __str__(self) -> str:
        return str(Path(self.path).expanduser().absolute())

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"codeferry_local.steps.pull_from_directory": {"path": str(self)}}

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
        """Mirror ``source_dir`` into this folder: changed files copied, deleted ones removed."""
        source, target = Path(source_dir), Path(str(self))
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
    """Every regular file under ``root`` as (``/``-separated relative path, stat), tooling skipped.

    Symbolic links are followed only when they stay inside ``root``.
    """
    resolved_root = root.resolve()
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if not target.is_relative_to(resolved_root):
                        continue
                if entry.is_dir():
                    if entry.name not in SKIPPED_DIRS:
                        stack.append(Path(entry.path))
                elif entry.is_file():
                    rel = Path(entry.path).relative_to(root).as_posix()
                    yield rel, entry.stat()


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: Path, destination: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as reader, destination.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    shutil.copystat(source, destination)
    return digest.hexdigest()
