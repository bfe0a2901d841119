"""The remote engine passes the storage contract on fsspec's memory and local filesystems."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from codeferry.remote import RemoteStorage
from codeferry.testing import StorageContract, StoreHandle
from tests.local.folders import folder_store
from tests.remote.conftest import MemoryFolder


def replace_local(root: Path, files: Mapping[str, bytes]) -> None:
    for path in files:
        if path.startswith("/") or ".." in path.split("/"):
            raise NotImplementedError("a local folder cannot hold that name")
    for existing in sorted(root.rglob("*"), reverse=True):
        relative = existing.relative_to(root).as_posix()
        if existing.is_file() and relative not in files:
            existing.unlink()
    for path, data in files.items():
        target = root / path
        if target.is_file() and target.read_bytes() == data:
            continue  # rewritten only when it differs, as a sync does
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class TestMemoryFilesystem(StorageContract):
    expected_skips = 1  # RemoteStorage is not a block

    @pytest.fixture
    def store(self, memory_folder: MemoryFolder) -> StoreHandle:
        missing = MemoryFolder()
        return StoreHandle(
            RemoteStorage(memory_folder.url),
            memory_folder.replace,
            failing=lambda: RemoteStorage(missing.url),
        )


class TestLocalFilesystem(StorageContract):
    # A folder cannot hold ../escaped.py, /absolute.py, a/../../escaped.py; not a block.
    expected_skips = 4

    @pytest.fixture
    def store(self, tmp_path: Path) -> StoreHandle:
        return folder_store(tmp_path, lambda root: RemoteStorage(root.as_uri()), replace_local)
