"""Files the client checks on read skip the engine's own MD5, but only when read whole."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fsspec.asyn import AsyncFileSystem
from typing_extensions import override

from codeferry.remote.download import DownloadJob, download_files
from codeferry.remote.listing import RemoteFile
from codeferry.remote.progress import TransferProgress
from codeferry.remote.transfer import TransferError, TransferSettings

DATA = bytes(range(256)) * 40
WRONG_MD5 = hashlib.md5(b"something else", usedforsecurity=False).hexdigest()


class RangedMemoryFS(AsyncFileSystem):  # type: ignore[misc]
    """In-memory files read by ranges only (as adlfs and gcsfs are)."""

    cachable = False  # a new filesystem per test, never fsspec's cached one

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    @override
    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **_kwargs: Any
    ) -> bytes:
        return self.files[path][start:end]


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    async def close(self) -> None:
        pass


class StreamingMemoryFS(RangedMemoryFS):
    """In-memory files streamed whole (as s3fs's are)."""

    @override
    async def open_async(self, path: str, mode: str = "rb", **_kwargs: Any) -> _Stream:
        return _Stream(self.files[path])


def pull(fs: RangedMemoryFS, tmp_path: Path, *, checked_on_read: bool) -> bytes:
    """Download ``data`` listed with a wrong MD5; what was written, if it was accepted."""
    remote = RemoteFile("f", "f", len(DATA), None, WRONG_MD5, checked_on_read=checked_on_read)
    settings = TransferSettings(attempts=1, chunk_size=1024, range_size=1024)
    progress = TransferProgress("pulling", 1, len(DATA), False)
    download_files(fs, [DownloadJob(remote, tmp_path / "f")], settings, progress)
    return (tmp_path / "f").read_bytes()


def test_a_file_the_client_checks_as_it_streams_it_is_not_hashed_again(tmp_path: Path) -> None:
    fs = StreamingMemoryFS({"f": DATA})
    assert pull(fs, tmp_path, checked_on_read=True) == DATA


@pytest.mark.parametrize(
    ("fs", "checked_on_read"),
    [
        (StreamingMemoryFS({"f": DATA}), False),
        (RangedMemoryFS({"f": DATA}), True),  # many ranges: no read covers the whole file
    ],
    ids=["not-checked-by-the-client", "read-by-ranges"],
)
def test_otherwise_the_md5_is_checked(
    fs: RangedMemoryFS, checked_on_read: bool, tmp_path: Path
) -> None:
    with pytest.raises(TransferError) as caught:
        pull(fs, tmp_path, checked_on_read=checked_on_read)
    assert "MD5 differs" in str(caught.value.cause)
