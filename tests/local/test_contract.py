"""The local plugin passes the storage contract every plugin passes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from codeferry.testing import StorageContract, StoreHandle
from codeferry_local.folder import LocalFolder
from codeferry_local.storage import LocalDirectory


def replace_folder(root: Path, files: Mapping[str, bytes]) -> None:
    for path in files:
        if path.startswith("/") or ".." in path.split("/"):
            raise NotImplementedError("a folder cannot hold that name")
    for existing in sorted(root.rglob("*"), reverse=True):
        existing.unlink() if existing.is_file() else existing.rmdir()
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


class TestLocalDirectory(StorageContract):
    expected_skips = 3  # a folder cannot hold ../escaped.py, /absolute.py, a/../../escaped.py

    @pytest.fixture
    def store(self, tmp_path: Path) -> StoreHandle:
        root = tmp_path / "source"
        root.mkdir()
        return StoreHandle(
            LocalDirectory(path=str(root)),
            lambda files: replace_folder(root, files),
            failing=lambda: LocalDirectory(path=str(tmp_path / "missing")),
        )


class TestLocalFolder(StorageContract):
    """The plain storage a path source gives (the block hands its work to it)."""

    # a folder cannot hold ../escaped.py, /absolute.py, a/../../escaped.py; it is no block
    expected_skips = 4

    @pytest.fixture
    def store(self, tmp_path: Path) -> StoreHandle:
        root = tmp_path / "source"
        root.mkdir()
        return StoreHandle(
            LocalFolder(str(root)),
            lambda files: replace_folder(root, files),
            failing=lambda: LocalFolder(str(tmp_path / "missing")),
        )
