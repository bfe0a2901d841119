"""How many downloads the engine runs at once: every connection for small files, few large ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fsspec.asyn import AsyncFileSystem
from typing_extensions import override

from codeferry.remote.download import DownloadJob, download_files
from codeferry.remote.listing import RemoteFile
from codeferry.remote.progress import TransferProgress
from codeferry.remote.transfer import TransferSettings

CHUNK = 1024


class _Stream:
    def __init__(self, fs: SlowMemoryFS, data: bytes) -> None:
        self.fs, self.data = fs, data

    async def read(self, size: int) -> bytes:
        await asyncio.sleep(0.01)  # every read waits, as on a network
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    async def close(self) -> None:
        self.fs.open_now -= 1


class SlowMemoryFS(AsyncFileSystem):  # type: ignore[misc]
    """An async filesystem of in-memory files that records how many are open at once."""

    cachable = False  # a new filesystem per test, never fsspec's cached one

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files
        self.open_now = 0
        self.most_open: dict[bool, int] = {True: 0, False: 0}

    @override
    async def open_async(self, path: str, mode: str = "rb", **_kwargs: Any) -> _Stream:
        self.open_now += 1
        large = len(self.files[path]) > CHUNK
        self.most_open[large] = max(self.most_open[large], self.open_now)
        return _Stream(self, self.files[path])


def pull(fs: SlowMemoryFS, tmp_path: Path, settings: TransferSettings) -> None:
    jobs = [
        DownloadJob(RemoteFile(key, key, len(data), None, None), tmp_path / key)
        for key, data in fs.files.items()
    ]
    total = sum(len(data) for data in fs.files.values())
    download_files(fs, jobs, settings, TransferProgress("pulling", len(jobs), total, False))
    for key, data in fs.files.items():
        assert (tmp_path / key).read_bytes() == data


def test_at_most_large_files_of_more_than_a_chunk_are_streamed_at_once(tmp_path: Path) -> None:
    fs = SlowMemoryFS({f"big{n}": bytes([n]) * (CHUNK * 5) for n in range(12)})
    pull(fs, tmp_path, TransferSettings(connections=16, chunk_size=CHUNK, large_files=3))
    assert fs.most_open[True] == 3


def test_small_files_use_every_connection(tmp_path: Path) -> None:
    files = {f"small{n}": bytes([n]) * CHUNK for n in range(40)}
    files |= {f"big{n}": bytes([n]) * (CHUNK * 5) for n in range(4)}
    fs = SlowMemoryFS(files)
    pull(fs, tmp_path, TransferSettings(connections=16, chunk_size=CHUNK, large_files=1))
    assert fs.most_open[False] > 8
