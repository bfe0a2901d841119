"""Fixtures for the remote engine's tests: folders on fsspec's memory and local filesystems."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping

import fsspec
import pytest


class MemoryFolder:
    """A folder on fsspec's in-memory filesystem, unique to one test."""

    def __init__(self) -> None:
        self.fs = fsspec.filesystem("memory")
        self.root = f"/t-{uuid.uuid4().hex}"

    @property
    def url(self) -> str:
        return f"memory:/{self.root}"

    def put(self, path: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.root}/{path}", data)

    def remove(self, path: str) -> None:
        self.fs.rm_file(f"{self.root}/{path}")

    def replace(self, files: Mapping[str, bytes]) -> None:
        """Make the folder hold exactly ``files``, rewriting only what differs (as a sync does)."""
        for path in self.paths():
            if path not in files:
                self.remove(path)
        for path, data in files.items():
            key = f"{self.root}/{path}"
            if not self.fs.exists(key) or self.fs.cat_file(key) != data:
                self.put(path, data)

    def paths(self) -> list[str]:
        prefix = self.root + "/"
        if not self.fs.exists(self.root):
            return []
        return sorted(name[len(prefix) :] for name in self.fs.find(self.root))

    def cleanup(self) -> None:
        if self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)


@pytest.fixture
def memory_folder() -> Iterator[MemoryFolder]:
    folder = MemoryFolder()
    yield folder
    folder.cleanup()
