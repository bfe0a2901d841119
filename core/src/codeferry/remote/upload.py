"""Uploading local files in parallel, each retried a bounded number of times."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codeferry.remote import internals
from codeferry.remote.transfer import TransferSettings, run_jobs

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

    if not internals.is_async(fs):
        # Local-like filesystems need the folders to exist; object stores ignore this.
        for parent in sorted({internals.parent(fs, job.key) for job in jobs}):
            fs.makedirs(parent, exist_ok=True)

    async def on_loop(job: UploadJob) -> None:
        await internals.put_file(fs, str(job.source), job.key)
        progress.advance(job.size)
        progress.file_done()

    def in_thread(job: UploadJob, _stop: threading.Event) -> None:
        fs.put_file(str(job.source), job.key)
        progress.advance(job.size)
        progress.file_done()

    run_jobs(fs, jobs, settings, _job_path, on_loop=on_loop, in_thread=in_thread)


def _job_path(job: UploadJob) -> str:
    return job.path
