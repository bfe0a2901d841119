"""The local plugin passes the storage contract every plugin passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry.testing import StorageContract, StoreHandle
from codeferry_local.folder import LocalFolder
from codeferry_local.storage import LocalDirectory
from tests.local.folders import folder_store


class TestLocalDirectory(StorageContract):
    expected_skips = 3  # a folder cannot hold ../escaped.py, /absolute.py, a/../../escaped.py

    @pytest.fixture
    def store(self, tmp_path: Path) -> StoreHandle:
        return folder_store(tmp_path, lambda root: LocalDirectory(path=str(root)))


class TestLocalFolder(StorageContract):
    """The plain storage a path source gives (the block hands its work to it)."""

    # a folder cannot hold ../escaped.py, /absolute.py, a/../../escaped.py; it is no block
    expected_skips = 4

    @pytest.fixture
    def store(self, tmp_path: Path) -> StoreHandle:
        return folder_store(tmp_path, lambda root: LocalFolder(str(root)))
