"""Storages for testing the conformance kit: one that keeps the contract, and ones that break it.

Each broken storage makes one mistake a plugin author could make; the kit must fail it with a
message that names the mistake (see ``test_kit_catches_broken_storages.py``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from codeferry.errors import PullError
from codeferry.storage import CodeStorage, FetchResult, PullContext

TOKEN = "tok-3f1b9c0e5a77d2"


def replace_folder(root: Path, files: dict[str, bytes]) -> None:
    """Make ``root`` hold exactly ``files`` (what ``StoreHandle.write`` does for a folder)."""
    for path in files:
        if path.startswith("/") or ".." in path.split("/"):
            raise NotImplementedError("a folder cannot hold that name")
    for existing in sorted(root.rglob("*"), reverse=True):
        existing.unlink() if existing.is_file() else existing.rmdir()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


class FolderStore(CodeStorage):
    """A folder read through a token: incremental by content hash, by the rules."""

    def __init__(self, root: Path, token: str = TOKEN) -> None:
        self.root = root
        self.token = token

    def __str__(self) -> str:
        return f"folder://{self.root}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"tests.testing.broken_storages.pull": {"root": str(self.root)}}

    def listing(self) -> dict[str, str]:
        if not self.root.is_dir():
            raise PullError(f"folder {self.root} does not exist")
        return {
            p.relative_to(self.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def fetch(self, context: PullContext) -> FetchResult:
        files = self.listing()
        before: dict[str, str] = dict(context.previous_state.get("files", {}))
        if context.previous is not None and files == before:
            return context.unchanged()
        transferred = size = 0
        for rel, digest in files.items():
            copied = self.transfer(rel, before.get(rel) == digest, context)
            if copied is not None:
                size, transferred = size + copied, transferred + 1
        version = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()
        return FetchResult(version, transferred, size, state={"files": files})

    def transfer(self, rel: str, unchanged: bool, context: PullContext) -> int | None:
        """Reuse or copy one file; the bytes copied, or ``None`` when reused."""
        if unchanged and context.reuse(rel):
            return None
        return self.copy(rel, context)

    def copy(self, rel: str, context: PullContext) -> int:
        data = (self.root / rel).read_bytes()
        context.path_for(rel).write_bytes(data)
        return len(data)


class WritesOutsideTarget(FolderStore):
    """Keeps a note beside the checkouts, by joining paths by hand."""

    def fetch(self, context: PullContext) -> FetchResult:
        result = super().fetch(context)
        (context.target / ".." / ".." / "last-pull.txt").write_text(result.version)
        return result


class WritesIntoCheckoutFolder(FolderStore):
    """Keeps a manifest next to ``context.target`` instead of in ``FetchResult.state``."""

    def fetch(self, context: PullContext) -> FetchResult:
        result = super().fetch(context)
        (context.target.parent / "manifest.txt").write_text(result.version)
        return result


class ShowsTokenInRepr(FolderStore):
    def __repr__(self) -> str:
        return f"ShowsTokenInRepr(root={self.root!s}, token={self.token})"


class ShowsTokenInStr(FolderStore):
    def __str__(self) -> str:
        return f"folder://reader:{self.token}@{self.root}"


class ShowsTokenInErrors(FolderStore):
    def listing(self) -> dict[str, str]:
        if not self.root.is_dir():
            raise PullError(f"cannot read {self.root} with token {self.token}")
        return super().listing()


class RecordsTokenInState(FolderStore):
    def fetch(self, context: PullContext) -> FetchResult:
        result = super().fetch(context)
        state = {**result.state, "auth": self.token}
        return FetchResult(result.version, result.files, result.bytes, state, result.unchanged)


class UpdatesPreviousInPlace(FolderStore):
    """Writes changed files into the current version (what the destination shows) as well."""

    def copy(self, rel: str, context: PullContext) -> int:
        size = super().copy(rel, context)
        if context.previous is not None:
            (context.previous / rel).parent.mkdir(parents=True, exist_ok=True)
            (context.previous / rel).write_bytes((self.root / rel).read_bytes())
        return size


class RewritesReusedFiles(FolderStore):
    """Starts every file from the previous version's copy, then rewrites it in place."""

    def copy(self, rel: str, context: PullContext) -> int:
        data = (self.root / rel).read_bytes()
        reused = context.reuse(rel)  # a hard link to the previous version's file
        with context.path_for(rel).open("r+b" if reused else "wb") as writer:
            writer.truncate(0)
            writer.write(data)
        return len(data)


class SkipsFilesThatFail(FolderStore):
    """Carries on when a file cannot be written, and commits what it has."""

    def transfer(self, rel: str, unchanged: bool, context: PullContext) -> int | None:
        try:
            return super().transfer(rel, unchanged, context)
        except OSError:
            return None


def pull(root: str) -> dict[str, Any]:
    """The pull step of :class:`FolderStore`."""
    return FolderStore(Path(root)).pull_code().as_dict()
