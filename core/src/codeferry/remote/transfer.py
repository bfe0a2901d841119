"""Running many transfers at once, each retried a bounded number of times, never left behind.

Async filesystems (s3fs, gcsfs, adlfs) run their transfers as coroutines on the filesystem's own
event loop, at most ``connections`` at a time; synchronous ones (``memory://``, ``file://``) in a
thread pool. Either way, when one transfer fails for good or the caller is interrupted, the others
are stopped *before* control returns, so nothing writes into a folder that is being discarded.

A request that timed out is tried at most ``timeout_attempts`` times (two, by default: see
:mod:`codeferry.timeouts`), whatever ``attempts`` allows, so a store that accepts connections and
then says nothing is given up within about a minute.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from codeferry.errors import CodeferryError
from codeferry.secrets import mask, remember
from codeferry.timeouts import READ_TIMEOUT, TIMEOUT_ATTEMPTS, is_timeout

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "LocalFileError",
    "TransferError",
    "TransferSettings",
    "call_with_retries",
    "describe",
    "is_retryable",
    "run_async_jobs",
    "run_jobs",
    "run_on_loop",
    "run_thread_jobs",
]

T = TypeVar("T")

# Answers that retrying cannot change: refused, missing, or malformed requests.
_FINAL_ERRORS: tuple[type[BaseException], ...] = (
    PermissionError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    ValueError,
    TypeError,
    KeyError,
    CodeferryError,
)
_FINAL_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOSPC, errno.EROFS, errno.EDQUOT}
_STOP_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class TransferSettings:
    """How a transfer is run.

    :param connections: transfers in flight at once (and so connections to the store).
    :param attempts: tries per file (and per listing) before the whole transfer fails.
    :param backoff: seconds before the first retry; doubled for each further one, with jitter.
    :param stall_timeout: seconds a download may go without receiving a byte before the attempt
        is abandoned (and retried); ``None``: no limit.
    :param timeout_attempts: tries of a file (or listing) whose last attempt timed out, the
        first included.
    :param chunk_size: bytes read or written at a time from a stream; memory use is about
        ``connections * chunk_size`` at most.
    :param range_size: bytes asked for at a time from backends that cannot stream (adlfs,
        gcsfs): each request costs a round trip, so ranges are larger than chunks; memory use
        is then about ``connections * range_size`` at most.
    :param large_files: files larger than one chunk streamed at once. Each holds a chunk and
        the connection's buffers for as long as it streams (about 1.5 MiB), while a file of one
        chunk is done in one read; small files still use every connection. Ranged reads are not
        limited: each range is a round trip, and fewer at once would be slower.
    """

    connections: int = 64
    attempts: int = 4
    backoff: float = 0.25
    stall_timeout: float | None = READ_TIMEOUT
    timeout_attempts: int = TIMEOUT_ATTEMPTS
    chunk_size: int = 256 << 10
    range_size: int = 1 << 20
    large_files: int = 4

    def __post_init__(self) -> None:
        numbers = (
            self.connections,
            self.attempts,
            self.chunk_size,
            self.range_size,
            self.large_files,
            self.timeout_attempts,
        )
        if min(numbers) < 1:
            raise CodeferryError(
                "connections, attempts, chunk_size, range_size, large_files and timeout_attempts "
                "must be at least 1"
            )

    def gives_up(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based), failed with ``error``, is the last."""
        if attempt >= self.attempts or not is_retryable(error):
            return True
        return attempt >= self.timeout_attempts and is_timeout(error)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(self.backoff * (2 ** (attempt - 1)) * random.uniform(0.75, 1.25))  # noqa: S311 - jitter, not security


class LocalFileError(Exception):
    """Writing or reading a local file failed: the local disk's fault, never retried."""


class TransferError(Exception):
    """A transfer failed for good: ``path`` names the file, ``cause`` the last error."""

    def __init__(self, path: str, cause: BaseException, attempts: int) -> None:
        super().__init__(path, cause, attempts)
        self.path = path
        self.cause = cause
        self.attempts = attempts


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt might succeed (a dropped connection, a 5xx, a short body)."""
    if not isinstance(error, Exception) or isinstance(error, LocalFileError | TransferError):
        return False
    if isinstance(error, _FINAL_ERRORS):
        return False
    return not (isinstance(error, OSError) and error.errno in _FINAL_ERRNOS)


def describe(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: first line`` of an error, every secret masked (``secrets`` are remembered)."""
    cause: BaseException = error
    if isinstance(error, TransferError | LocalFileError) and error.__cause__ is not None:
        cause = error.__cause__
    if isinstance(error, TransferError):
        cause = error.cause
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    remember(*secrets)
    return mask(text)


async def _retrying_async(
    settings: TransferSettings, path: str, attempt_once: Callable[[], Awaitable[None]]
) -> None:
    for attempt in range(1, settings.attempts + 1):
        try:
            await attempt_once()
            return
        except Exception as error:
            if settings.gives_up(error, attempt):
                raise TransferError(path, error, attempt) from error
            await asyncio.sleep(settings.delay(attempt))


def run_jobs(
    fs: AbstractFileSystem,
    jobs: Sequence[T],
    settings: TransferSettings,
    name: Callable[[T], str],
    *,
    on_loop: Callable[[T], Awaitable[None]],
    in_thread: Callable[[T, threading.Event], None],
) -> None:
    """Run every job, retrying each: ``on_loop`` for an async ``fs``, else ``in_thread``.

    ``name(job)`` names the job in errors. See :func:`run_async_jobs` and :func:`run_thread_jobs`.
    """
    from codeferry.remote import internals

    if internals.is_async(fs):
        run_async_jobs(fs, jobs, on_loop, settings, name)
    else:
        run_thread_jobs(jobs, in_thread, settings, name)


def run_async_jobs(
    fs: AbstractFileSystem,
    jobs: Sequence[T],
    attempt_once: Callable[[T], Awaitable[None]],
    settings: TransferSettings,
    name: Callable[[T], str],
) -> None:
    """Run ``attempt_once(job)`` for every job on ``fs``'s event loop, retrying each.

    :raises TransferError: for the first job that failed for good (the others are cancelled and
        finished before this returns).
    """
    if not jobs:
        return

    async def run_all() -> None:
        gate = asyncio.Semaphore(settings.connections)

        async def one(job: T) -> None:
            async with gate:
                await _retrying_async(settings, name(job), lambda: attempt_once(job))

        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run_on_loop(fs, run_all())


def run_on_loop(fs: AbstractFileSystem, coroutine: Awaitable[T]) -> T:
    """Run ``coroutine`` on the loop of the async filesystem ``fs`` and wait for it.

    Unlike ``fsspec.asyn.sync``, an interruption here (Ctrl-C) cancels the coroutine and waits for
    it to stop, so it cannot go on writing after the caller has cleaned up.
    """
    from codeferry.remote import internals

    loop = internals.event_loop(fs)

    async def wrapped() -> T:
        return await coroutine

    future = asyncio.run_coroutine_threadsafe(wrapped(), loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        concurrent.futures.wait([future], timeout=_STOP_WAIT_SECONDS)
        raise


def run_thread_jobs(
    jobs: Sequence[T],
    attempt_once: Callable[[T, threading.Event], None],
    settings: TransferSettings,
    name: Callable[[T], str],
    *,
    max_threads: int = 16,
) -> None:
    """Run ``attempt_once(job, stop)`` for every job in a thread pool, retrying each.

    ``stop`` is set when the transfer is abandoned; a long job checks it between chunks.

    :raises TransferError: for the first job that failed for good (the other threads have
        finished before this returns).
    """
    if not jobs:
        return
    stop = threading.Event()

    def one(job: T) -> None:
        for attempt in range(1, settings.attempts + 1):
            if stop.is_set():
                return
            try:
                attempt_once(job, stop)
                return
            except Exception as error:
                if settings.gives_up(error, attempt):
                    raise TransferError(name(job), error, attempt) from error
                time.sleep(settings.delay(attempt))

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, min(settings.connections, max_threads)),
        thread_name_prefix="codeferry-transfer",
    )
    try:
        futures = [pool.submit(one, job) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            future.result()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def call_with_retries(settings: TransferSettings, path: str, call: Callable[[], T]) -> T:
    """``call()`` retried like a transfer (for listings and single requests)."""
    for attempt in range(1, settings.attempts + 1):
        try:
            return call()
        except Exception as error:
            if settings.gives_up(error, attempt):
                raise TransferError(path, error, attempt) from error
            time.sleep(settings.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
