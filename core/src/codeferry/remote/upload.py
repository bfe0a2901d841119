"""Uploading local files in parallel, each retried a bounded number of times."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codeferry.remote import internals
from codeferry.remote.transfer import TransferSettings, run_async_jobs, run_thread_jobs

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from codeferry.remote.progress import TransferProgress

__all__ = ["UploadJob", "upload_files"]


@dataclass(frozen=True)
class UploadJob:
    """One file to send: its path inside the folder, the local file, and its key in the store."""

    path: str
    source: Path
    key: str
    size: int


def upload_files(
    fs: AbstractFileSystem,
    jobs: list[UploadJob],
    settings: TransferSettings,
    progress: TransferProgress,
) -> None:
    """Send every job's file to its key, at most ``settings.connections`` at a time.

    :raises TransferError: for the first file that failed for good; no upload is still running
        when this raises.
    """

    def name(job: UploadJob) -> str:
        return job.path

    if internals.is_async(fs):

        async def attempt_async(job: UploadJob, attempt: int) -> None:
            await internals.put_file(fs, str(job.source), job.key)
            progress.advance(job.size)
            progress.file_done()

        run_async_jobs(fs, jobs, attempt_async, settings, name)
        return

    # Local-like filesystems need the folders to exist; object stores ignore this.
    for parent in sorted({internals.parent(fs, job.key) for job in jobs}):
        fs.makedirs(parent, exist_ok=True)

    def attempt_sync(job: UploadJob, attempt: int, stop: threading.Event) -> None:
        fs.put_file(str(job.source), job.key)
        progress.advance(job.size)
        progress.file_done()

    run_thread_jobs(jobs, attempt_sync, settings, name)
