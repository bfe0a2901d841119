"""The lock that lets one pull at a time into a checkout: its holder on record, its wait bounded.

The pull that takes the lock writes who it is beside it (process id, host, command line, start
time). A pull that finds the lock taken says so after :data:`NOTICE_AFTER` seconds, naming the
holder, and gives up after ``CODEFERRY_LOCK_TIMEOUT`` (:func:`codeferry.timeouts.lock_timeout`)
with a :class:`~codeferry.errors.PullError` that names it again.

The lock is :func:`fcntl.flock` on the lock file where the system has it (as filelock does
there, without importing it: pulls are started as whole processes, and start-up counts), and
filelock's elsewhere, or where the file system refuses ``flock``.

The notice is a ``logging`` warning of the ``codeferry.checkouts`` logger, not a print: a library
leaves the channel to its host (a Prefect or Airflow worker's log handlers), and the command line
shows it on standard error (:func:`codeferry.cli.output.configure_logging`; ``-q`` silences it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codeferry.errors import PullError
from codeferry.secrets import mask
from codeferry.timeouts import format_seconds, lock_timeout

__all__ = ["NOTICE_AFTER", "LockHolder", "holder_file", "pull_lock", "read_holder"]

NOTICE_AFTER = 3.0
"""Seconds a pull waits on a taken lock before it says so."""

log = logging.getLogger("codeferry.checkouts")

_MAX_COMMAND = 300
_SPACES = re.compile(r"\s+")
_POLL = 0.05  # seconds between tries at a taken lock
# flock's answers when another open file holds the lock (some file systems say EACCES).
_TAKEN = frozenset({errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK})

try:
    import fcntl
except ImportError:  # Windows: filelock's lock
    fcntl = None  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """The process that holds (or last held) a checkout's lock."""

    pid: int
    host: str
    command: str
    since: float

    @classmethod
    def this_process(cls) -> LockHolder:
        """This process; its command line on one line, URL credentials masked."""
        words = [Path(sys.orig_argv[0]).name, *sys.orig_argv[1:]] if sys.orig_argv else []
        command = _SPACES.sub(" ", mask(shlex.join(words)))
        if len(command) > _MAX_COMMAND:
            command = command[: _MAX_COMMAND - 3] + "..."
        return cls(os.getpid(), _host_name(), command, time.time())

    def __str__(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        age = max(time.time() - self.since, 0.0)
        return f"pid {self.pid} on {self.host} since {started} ({age:.0f} s ago): {self.command}"


def _host_name() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename  # what gethostname() answers, without importing socket
    import socket

    return socket.gethostname()


def holder_file(lock: Path) -> Path:
    """Where the holder of ``lock`` is recorded."""
    return lock.with_name(lock.name + ".holder")


def read_holder(lock: Path) -> LockHolder | None:
    """The recorded holder of ``lock``; ``None`` if none is recorded (or it cannot be read)."""
    try:
        data = json.loads(holder_file(lock).read_text(encoding="utf-8"))
        since = float(data["since"])
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["command"]), since)
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def pull_lock(lock: Path, what: str) -> Iterator[None]:
    """Hold ``lock`` (a file) for a pull into ``what`` (named in messages) while the block runs.

    :raises PullError: when another process held it for ``CODEFERRY_LOCK_TIMEOUT`` seconds.
    :raises SettingError: for a malformed ``CODEFERRY_LOCK_TIMEOUT``.
    """
    limit = lock_timeout()
    file_lock = _FileLock(lock)
    started = time.monotonic()
    if not file_lock.acquire(NOTICE_AFTER if limit is None else min(NOTICE_AFTER, limit)):
        _wait_for(file_lock, lock, what, limit, started)
    try:
        _record(lock, LockHolder.this_process())
        yield
    finally:
        holder_file(lock).unlink(missing_ok=True)
        file_lock.release()


def _wait_for(
    file_lock: _FileLock, lock: Path, what: str, limit: float | None, started: float
) -> None:
    """Wait out the rest of ``limit`` for a lock found taken, having said who holds it."""
    if limit is None or time.monotonic() - started < limit:
        until = "" if limit is None else f"; giving up after {format_seconds(limit)}"
        log.warning(
            "waiting for another pull into %s to finish (%s)%s",
            what,
            _describe(read_holder(lock)),
            until,
        )
        remaining = None if limit is None else max(limit - (time.monotonic() - started), 0.0)
        if file_lock.acquire(remaining):
            return
    raise PullError(
        f"gave up after waiting {format_seconds(limit)} for another pull into {what} to finish "
        f"({_describe(read_holder(lock))}); set CODEFERRY_LOCK_TIMEOUT to wait longer"
    )


def _describe(holder: LockHolder | None) -> str:
    return f"held by {holder}" if holder else "its holder is not recorded"


def _record(lock: Path, holder: LockHolder) -> None:
    """Write ``holder`` beside ``lock``, whole or not at all (a reader never sees half of it)."""
    target = holder_file(lock)
    temporary = target.with_name(f"{target.name}.{holder.pid}")
    temporary.write_text(json.dumps(dataclasses.asdict(holder)), encoding="utf-8")
    temporary.replace(target)


class _FileLock:
    """An exclusive lock on a file, between processes and between threads (one open file each).

    ``flock`` where the system has it; filelock's lock where it has not, or where the file
    system refuses ``flock`` (filelock then falls back to a lock of its own).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._fallback: Any = None if fcntl is not None else _filelock(path)

    def acquire(self, timeout: float | None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds (``None``: without end); if taken."""
        if self._fallback is not None:
            return _acquire_filelock(self._fallback, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            taken = self._try()
            if taken is None:  # a file system without flock
                self._fallback = _filelock(self.path)
                return _acquire_filelock(self._fallback, _left(deadline))
            if taken:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)

    def release(self) -> None:
        if self._fallback is not None:
            self._fallback.release()
            return
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _try(self) -> bool | None:
        """Whether the lock was taken now; ``None`` when the file system has no ``flock``."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno in _TAKEN:
                    return False
                if error.errno in {errno.ENOSYS, errno.EOPNOTSUPP}:
                    return None
                raise
            if os.fstat(fd).st_nlink > 0:
                self._fd = fd
                return True
            os.close(fd)  # the file was removed under us: lock the one there now


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def _filelock(path: Path) -> Any:
    from filelock import FileLock

    return FileLock(path)


def _acquire_filelock(lock: Any, timeout: float | None) -> bool:
    from filelock import Timeout

    try:
        lock.acquire(timeout=-1 if timeout is None else timeout)
    except Timeout:
        return False
    return True
