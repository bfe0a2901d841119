"""Storages for testing the conformance kit: one that keeps the contract, and ones that break it.

Each broken storage makes one mistake a plugin author could make; the kit must fail it with a
message that names the mistake (see ``test_kit_catches_broken_storages.py``). Their store is a
folder of blobs with an index of names, so it can hold any name, even a hostile one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pydantic import SecretStr

from codeferry.blocks import Block
from codeferry.errors import CodeferryError, PullError
from codeferry.paths import is_git_path
from codeferry.storage import CodeStorage, FetchResult, PullContext
from codeferry.testing import StoreHandle

TOKEN = "tok-3f1b9c0e5a77d2"
INDEX = "index.json"


def replace_store(root: Path, files: Mapping[str, bytes]) -> None:
    """Make the store at ``root`` hold exactly ``files`` (what ``StoreHandle.write`` does)."""
    if root.exists():
        shutil.rmtree(root)
    index = {}
    for path, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        # Each blob keeps its file's name: a read of it is a read of that file.
        blob = root / "objects" / digest / PurePosixPath(path).name
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        index[path] = digest
    (root / INDEX).write_text(json.dumps(index))


class FolderStore(CodeStorage):
    """A store read through a token: incremental by content hash, by the rules."""

    kit_write_refuses_git: ClassVar[bool] = False
    """Its ``StoreHandle.write`` says the store cannot hold git's folder (a skip)."""

    def __init__(self, root: Path, token: str = TOKEN) -> None:
        self.root = root
        self.token = token

    def __str__(self) -> str:
        return f"folder://{self.root}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"tests.testing.broken_storages.pull": {"root": str(self.root)}}

    def index(self) -> dict[str, str]:
        """Every path the store holds, and the digest of its content."""
        try:
            index: dict[str, str] = json.loads((self.root / INDEX).read_text())
        except FileNotFoundError:
            raise PullError(f"store {self.root} does not exist") from None
        return index

    def listing(self) -> dict[str, str]:
        return {path: digest for path, digest in self.index().items() if not is_git_path(path)}

    def blob(self, rel: str) -> Path:
        return self.root / "objects" / self.index()[rel] / PurePosixPath(rel).name

    def fetch(self, context: PullContext) -> FetchResult:
        files = self.listing()
        before: dict[str, str] = dict(context.previous_state.get("files", {}))
        if context.previous is not None and files == before:
            return context.unchanged()
        sizes = [
            self.transfer(rel, before.get(rel) == digest, context) for rel, digest in files.items()
        ]
        copied = [size for size in sizes if size is not None]
        version = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()
        return FetchResult(version, len(copied), sum(copied), state={"files": files})

    def transfer(self, rel: str, unchanged: bool, context: PullContext) -> int | None:
        """Reuse or copy one file; the bytes copied, or ``None`` when reused."""
        if unchanged and context.reuse(rel):
            return None
        return self.copy(rel, context)

    def copy(self, rel: str, context: PullContext) -> int:
        target = context.path_for(rel)
        data = self.blob(rel).read_bytes()
        target.write_bytes(data)
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


class WritesIntoSystemTemp(FolderStore):
    """Keeps a note of the last pull in ``/tmp``, where it stays."""

    def fetch(self, context: PullContext) -> FetchResult:
        result = super().fetch(context)
        Path("/tmp/codeferry-last-pull.txt").write_text(result.version)
        return result


class LeavesScratchFilesInTemp(FolderStore):
    """Downloads each file into a temporary file first, and never removes it."""

    def copy(self, rel: str, context: PullContext) -> int:
        target = context.path_for(rel)
        with tempfile.NamedTemporaryFile(delete=False) as scratch:
            scratch.write(self.blob(rel).read_bytes())
        shutil.copyfile(scratch.name, target)
        return target.stat().st_size


def write_around_path_for(store: FolderStore, rel: str, context: PullContext) -> int:
    """Write ``rel`` at ``context.target / rel``, by hand: the mistake two storages make."""
    target = context.target / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    data = store.blob(rel).read_bytes()
    target.write_bytes(data)
    return len(data)


class JoinsPathsByHand(FolderStore):
    """Joins storage paths with ``/`` instead of ``context.path_for``: ``/x`` is the root's."""

    def copy(self, rel: str, context: PullContext) -> int:
        return write_around_path_for(self, rel, context)


class ShowsTokenInRepr(FolderStore):
    def __repr__(self) -> str:
        return f"ShowsTokenInRepr(root={self.root!s}, token={self.token})"


class ShowsTokenInStr(FolderStore):
    def __str__(self) -> str:
        return f"folder://reader:{self.token}@{self.root}"


class ShowsTokenInErrors(FolderStore):
    def index(self) -> dict[str, str]:
        if not self.root.is_dir():
            raise PullError(f"cannot read {self.root} with token {self.token}")
        return super().index()


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
            (context.previous / rel).write_bytes(self.blob(rel).read_bytes())
        return size


class RewritesReusedFiles(FolderStore):
    """Starts every file from the previous version's copy, then rewrites it in place."""

    def copy(self, rel: str, context: PullContext) -> int:
        data = self.blob(rel).read_bytes()
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


class SwallowsWriteErrors(FolderStore):
    """Ignores a failed write ("a full disk will be noticed later"): the file stays cut short."""

    def copy(self, rel: str, context: PullContext) -> int:
        target = context.path_for(rel)
        data = self.blob(rel).read_bytes()
        try:
            with target.open("wb") as writer:
                writer.write(data)
        except OSError:
            pass
        return len(data)


class SwallowsReadErrors(FolderStore):
    """Leaves out a file of the store it cannot read, and commits the rest."""

    def copy(self, rel: str, context: PullContext) -> int:
        target = context.path_for(rel)
        try:
            data = self.blob(rel).read_bytes()
        except OSError:
            return 0
        target.write_bytes(data)
        return len(data)


class RefusesGitFolder(FolderStore):
    """Passes git's folder to ``path_for`` with the rest, which refuses it: the pull fails."""

    def listing(self) -> dict[str, str]:
        return self.index()


class WritesGitFolder(FolderStore):
    """Writes git's folder by hand, around ``path_for``: a planted hook lands."""

    def listing(self) -> dict[str, str]:
        return self.index()

    def copy(self, rel: str, context: PullContext) -> int:
        if not is_git_path(rel):
            return super().copy(rel, context)
        return write_around_path_for(self, rel, context)


class GitFolderSkipped(FolderStore):
    """Keeps the contract, but its ``StoreHandle`` says the store cannot hold git's folder."""

    kit_write_refuses_git = True


class FolderToken(Block):
    """The token a folder store is read with."""

    token: SecretStr


class TakesCredentialsAsADict(CodeStorage, Block):
    """A saved store whose pull step reads its credentials as a dictionary.

    That works when the step is given ``{"token": ...}`` by hand, and fails when the step engine
    resolves ``{{ blocks.folder-token.NAME }}`` to the block itself, as ``codeferry pull`` does.
    """

    root: str
    credentials: FolderToken

    def __str__(self) -> str:
        return f"folder://{self.root}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        name = self.credentials.block_name
        if name is None:
            raise CodeferryError("save the credentials as a block first")
        reference = f"{{{{ blocks.{FolderToken.block_type_slug}.{name} }}}}"
        step = "tests.testing.broken_storages.pull_with_credentials"
        return {step: {"root": self.root, "credentials": reference}}

    def fetch(self, context: PullContext) -> FetchResult:
        return FolderStore(Path(self.root), self.credentials.token.get_secret_value()).fetch(
            context
        )


def pull(root: str) -> dict[str, Any]:
    """The pull step of :class:`FolderStore`."""
    return FolderStore(Path(root)).pull_code().as_dict()


def pull_with_credentials(root: str, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The pull step of :class:`TakesCredentialsAsADict`, written for a dictionary."""
    storage = FolderStore(Path(root), str(credentials["token"]))
    return storage.pull_code().as_dict()


def handle_for(storage_class: type[CodeStorage], tmp_path: Path) -> StoreHandle:
    """The kit's handle on a store of ``storage_class`` in ``tmp_path``."""
    root = tmp_path / "source"
    refuses_git = getattr(storage_class, "kit_write_refuses_git", False)

    def write(files: Mapping[str, bytes]) -> None:
        if refuses_git and any(is_git_path(path) for path in files):
            raise NotImplementedError("this store cannot hold git's folder")
        replace_store(root, files)

    def make(where: Path) -> CodeStorage:
        if issubclass(storage_class, TakesCredentialsAsADict):
            credentials = FolderToken(token=TOKEN)
            credentials.save("reader", overwrite=True)  # as a deployment names them
            return storage_class(root=str(where), credentials=credentials)
        return storage_class(where)  # type: ignore[call-arg]

    return StoreHandle(
        make(root), write, secrets=[TOKEN], failing=lambda: make(tmp_path / "missing")
    )
