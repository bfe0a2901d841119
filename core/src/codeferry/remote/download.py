"""Downloading files to disk in parallel, streamed in chunks, each checked as it arrives.

Memory stays flat whatever the file sizes: a file is written chunk by chunk as it streams
(``open_async`` where the backend has it, as s3fs does; ranged reads otherwise), so at most
``connections * chunk_size`` (or ``range_size``) bytes are held at once. Every file's size is
checked, its MD5 where the store gives one and its SHA-256 where a manifest does; a short, long or
corrupt body is retried like a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from codeferry.remote import internals
from codeferry.remote.transfer import LocalFileError, TransferSettings, run_jobs

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fsspec import AbstractFileSystem

    from codeferry.remote.listing import RemoteFile
    from codeferry.remote.progress import TransferProgress

__all__ = ["DownloadJob", "IntegrityError", "download_files"]


@dataclass(frozen=True)
class DownloadJob:
    """One file to fetch: what it is in the store, where it goes, what its SHA-256 must be."""

    remote: RemoteFile
    target: Path
    sha256: str | None = None


class IntegrityError(Exception):
    """A downloaded file is not what the store or the manifest says it is (retried)."""


class _StoppedError(Exception):
    """The transfer was abandoned while this file was being written."""


class _Checks:
    """Size and content hashes of one download, computed as the chunks arrive.

    :param whole_read: the content comes in one read of the whole file, which the client checks
        itself when the file is ``checked_on_read`` (a ranged read is checked by no one).
    """

    def __init__(self, job: DownloadJob, *, whole_read: bool) -> None:
        self.job = job
        self.received = 0
        remote = job.remote
        checked_by_client = whole_read and remote.checked_on_read
        self.md5 = (
            hashlib.md5(usedforsecurity=False) if remote.md5 and not checked_by_client else None
        )
        self.sha256 = hashlib.sha256() if job.sha256 else None

    def update(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.job.remote.size:
            raise IntegrityError(
                f"{self.job.remote.path}: more than the {self.job.remote.size} bytes listed "
                "(was it changed during the pull?)"
            )
        if self.md5 is not None:
            self.md5.update(chunk)
        if self.sha256 is not None:
            self.sha256.update(chunk)

    def verify(self) -> None:
        remote = self.job.remote
        if self.received != remote.size:
            raise IntegrityError(f"{remote.path}: received {self.received} of {remote.size} bytes")
        if self.md5 is not None and self.md5.hexdigest() != remote.md5:
            raise IntegrityError(f"{remote.path}: MD5 differs from the store's checksum")
        if self.sha256 is not None and self.sha256.hexdigest() != self.job.sha256:
            raise IntegrityError(f"{remote.path}: SHA-256 differs from the manifest")


class _Target:
    """The local file being written; its errors are the disk's, so they are never retried."""

    def __init__(self, path: Path) -> None:
        try:
            self.handle: BinaryIO = path.open("wb")
        except OSError as error:
            raise LocalFileError(f"cannot write {path}: {error}") from error

    def write(self, chunk: bytes) -> None:
        try:
            self.handle.write(chunk)
        except OSError as error:
            raise LocalFileError(f"cannot write {self.handle.name}: {error}") from error

    def close(self) -> None:
        try:
            self.handle.close()
        except OSError as error:
            raise LocalFileError(f"cannot write {self.handle.name}: {error}") from error


def download_files(
    fs: AbstractFileSystem,
    jobs: list[DownloadJob],
    settings: TransferSettings,
    progress: TransferProgress,
) -> None:
    """Fetch every job's file into its target, at most ``settings.connections`` at a time.

    :raises TransferError: for the first file that failed for good; no transfer is still running
        when this raises.
    """

    streams = internals.opens_streams(fs) if internals.is_async(fs) else False
    large = asyncio.Semaphore(settings.large_files)

    async def on_loop(job: DownloadJob) -> None:
        if not streams:
            await _ranges_async(fs, job, settings, progress)
        elif job.remote.size <= settings.chunk_size:
            await _stream_async(fs, job, settings, progress)
        else:
            async with large:  # memory: each holds buffers while it streams
                await _stream_async(fs, job, settings, progress)

    def in_thread(job: DownloadJob, stop: threading.Event) -> None:
        _stream_sync(fs, job, settings, progress, stop)

    run_jobs(fs, jobs, settings, _job_path, on_loop=on_loop, in_thread=in_thread)


def _job_path(job: DownloadJob) -> str:
    return job.remote.path


@contextlib.contextmanager
def _receiving(
    job: DownloadJob, progress: TransferProgress, *, whole_read: bool = False
) -> Iterator[_Receiver]:
    """The file being received: complete and verified when the block ends, or not counted."""
    receiver = _Receiver(job, progress, whole_read=whole_read)
    try:
        yield receiver
        receiver.target.close()
        receiver.checks.verify()
    except BaseException:
        progress.advance(-receiver.checks.received)
        raise
    finally:
        receiver.target.handle.close()
    progress.file_done()


class _Receiver:
    """Checks, the local file and the progress of one download, fed chunk by chunk."""

    def __init__(self, job: DownloadJob, progress: TransferProgress, *, whole_read: bool) -> None:
        self.checks = _Checks(job, whole_read=whole_read)
        self.target = _Target(job.target)
        self.progress = progress

    @property
    def hashes(self) -> bool:
        return self.checks.md5 is not None or self.checks.sha256 is not None

    def take(self, chunk: bytes) -> None:
        self.checks.update(chunk)
        self.target.write(chunk)
        self.progress.advance(len(chunk))


async def _stream_async(
    fs: Any, job: DownloadJob, settings: TransferSettings, progress: TransferProgress
) -> None:
    stream: Any = None
    try:
        with _receiving(job, progress, whole_read=True) as receiver:
            stream = await asyncio.wait_for(
                fs.open_async(job.remote.key, "rb"), settings.stall_timeout
            )
            loop = asyncio.get_running_loop()
            while chunk := await asyncio.wait_for(
                stream.read(settings.chunk_size), settings.stall_timeout
            ):
                if receiver.hashes:
                    # Hashing releases the GIL: done beside the loop, it overlaps the other streams.
                    await loop.run_in_executor(None, receiver.take, chunk)
                else:
                    receiver.take(chunk)
    finally:
        await internals.release_stream(stream)


async def _ranges_async(
    fs: Any, job: DownloadJob, settings: TransferSettings, progress: TransferProgress
) -> None:
    """Fetch a file in ranged reads of ``range_size`` (backends without ``open_async``)."""
    size, step = job.remote.size, settings.range_size
    ranges: list[tuple[int | None, int | None]] = (
        [(None, None)]
        if size <= step
        else [(start, min(start + step, size)) for start in range(0, size, step)]
    )
    with _receiving(job, progress, whole_read=len(ranges) == 1) as receiver:
        for start, end in ranges:
            receiver.take(
                await asyncio.wait_for(
                    internals.read_range(fs, job.remote.key, start, end), settings.stall_timeout
                )
            )


def _stream_sync(
    fs: AbstractFileSystem,
    job: DownloadJob,
    settings: TransferSettings,
    progress: TransferProgress,
    stop: threading.Event,
) -> None:
    with _receiving(job, progress) as receiver, fs.open(job.remote.key, "rb") as stream:
        while chunk := stream.read(settings.chunk_size):
            if stop.is_set():
                raise _StoppedError(job.remote.path)
            receiver.take(chunk)
