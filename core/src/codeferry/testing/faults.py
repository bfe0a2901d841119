"""Failures the kit makes happen during a pull, to see that a storage never commits half a tree.

- :func:`failing_path_joins`: the Nth path joined through ``context.path_for`` (or
  :func:`codeferry.paths.safe_join`) raises, as a Ctrl-C or a full disk would there.
- :func:`limited_writes`: no file may grow past a size (``RLIMIT_FSIZE``): writing a larger one
  fails midway with ``EFBIG``, in this process and in the programs it starts, however the storage
  writes (a stream, ``copy_file_range``, a helper program).
- :func:`failing_reads`: a read of one file of the store fails, whether it is read from a file
  here (``EIO`` on open) or over a connection (the connection is reset when its bytes arrive).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeferry import paths
from codeferry.testing.sandbox import watch

__all__ = ["ReadFault", "failing_path_joins", "failing_reads", "limited_writes"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PROBE = 32
_PROBE_EVERY = 512


@contextlib.contextmanager
def failing_path_joins(check: Callable[[str], Any]) -> Iterator[None]:
    """Route every path join (``path_for``, ``reuse``, ``safe_join``) through ``check``.

    Not ``monkeypatch``: undoing it would also undo the isolated codeferry home.
    """
    real = paths.safe_relative_path
    paths.safe_relative_path = check  # type: ignore[assignment]
    try:
        yield
    finally:
        paths.safe_relative_path = real


@contextlib.contextmanager
def limited_writes(limit: int) -> Iterator[None]:
    """No file may grow past ``limit`` bytes while inside: larger writes fail with ``EFBIG``.

    ``SIGXFSZ`` (which would kill the process) is ignored meanwhile; call from the main thread.
    """
    import resource
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@dataclass
class ReadFault:
    """A file of the store whose first ``times`` reads fail, and where each failed.

    :param name: the file's name (its last path component), unique to the test.
    :param content: its bytes: random, so that no listing or request carries them.
    """

    name: str
    content: bytes
    times: int = 1
    failed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Slices of the content, one every 512 bytes: any received chunk of 1 KiB or more that
        # carries the file holds one whole, even stored in a zlib or gzip stream (random bytes
        # do not compress, so deflate stores them as they are).
        self._probes = [
            self.content[start : start + _PROBE]
            for start in range(0, len(self.content) - _PROBE, _PROBE_EVERY)
        ]
        self._lock = threading.Lock()

    def carries(self, data: bytes | memoryview) -> bool:
        chunk = bytes(data)
        return len(chunk) >= _PROBE and any(probe in chunk for probe in self._probes)

    def take(self, where: str) -> bool:
        """Whether this read fails: one of the first ``times``, recorded as read at ``where``."""
        with self._lock:
            if len(self.failed) >= self.times:
                return False
            self.failed.append(where)
            return True

    def check_open(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit watcher: fail opening the file for reading, wherever it is."""
        if event != "open" or not isinstance(args[0], str | bytes | os.PathLike):
            return
        reading = not (isinstance(args[2], int) and args[2] & _WRITE_FLAGS)
        path = os.fsdecode(args[0])
        if reading and Path(path).name == self.name and self.take(path):
            raise OSError(errno.EIO, "Input/output error (raised by the conformance kit)", path)


@contextlib.contextmanager
def failing_reads(fault: ReadFault) -> Iterator[ReadFault]:
    """Fail the first reads of ``fault``'s file while inside, from a file or a connection.

    Connections are watched through :class:`socket.socket`'s ``recv`` and ``recv_into`` (which
    asyncio and ``http.client`` read through); an encrypted connection hides the bytes, and a
    file read by another program (a server on this machine) is not seen.
    """
    real_recv = socket.socket.recv
    real_recv_into = socket.socket.recv_into

    def check(data: bytes | memoryview) -> None:
        if fault.carries(data) and fault.take("a connection"):
            raise ConnectionResetError(
                errno.ECONNRESET, "Connection reset by peer (raised by the conformance kit)"
            )

    def recv(self: socket.socket, *args: Any) -> bytes:
        data = real_recv(self, *args)
        check(data)
        return data

    def recv_into(self: socket.socket, buffer: Any, *args: Any) -> int:
        size = real_recv_into(self, buffer, *args)
        check(memoryview(buffer)[:size])
        return size

    replaced = {"recv": recv, "recv_into": recv_into}
    defined = socket.socket.__dict__
    own = {name: defined[name] for name in replaced if name in defined}
    for name, method in replaced.items():
        setattr(socket.socket, name, method)
    try:
        with watch(fault.check_open):
            yield fault
    finally:
        for name in replaced:
            if name in own:
                setattr(socket.socket, name, own[name])
            else:
                delattr(socket.socket, name)  # inherited from _socket.socket again
