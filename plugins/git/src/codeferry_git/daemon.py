"""``git://`` remotes (what ``git daemon`` serves), reached with bounded waits.

dulwich's ``TCPGitClient`` opens its socket without a timeout, so a daemon that accepts the
connection and then says nothing holds a pull (and the checkout's lock) forever. This client
opens the connection itself: connecting waits at most the connect timeout, and every read after
it at most the read timeout; the request it then sends is the one dulwich sends.
"""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Callable
from typing import IO

from dulwich.client import TCPGitClient
from dulwich.protocol import (
    DEFAULT_GIT_PROTOCOL_VERSION_FETCH,
    DEFAULT_GIT_PROTOCOL_VERSION_SEND,
    TCP_GIT_PORT,
    Protocol,
)

from codeferry.timeouts import NetworkTimeouts, open_connection

__all__ = ["TimedTCPGitClient"]


class TimedTCPGitClient(TCPGitClient):
    """dulwich's ``git://`` client, connecting and reading within ``timeouts``."""

    def __init__(
        self,
        host: str,
        port: int | None,
        timeouts: NetworkTimeouts,
        report_activity: Callable[[int, str], None] | None = None,
    ) -> None:
        super().__init__(host, port=port or TCP_GIT_PORT, report_activity=report_activity)
        self.timeouts = timeouts

    def _connect(
        self,
        cmd: bytes,
        path: str | bytes,
        protocol_version: int | None = None,
    ) -> tuple[Protocol, Callable[[], bool], IO[bytes] | None]:
        if isinstance(path, str):
            path = path.encode(self._remote_path_encoding)
        sock = open_connection(self._host, self._port, self.timeouts)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb", -1)
        writer = sock.makefile("wb", 0)

        def close() -> None:
            reader.close()
            writer.close()
            sock.close()

        def shutdown_write() -> None:
            writer.flush()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)

        def can_read() -> bool:
            return bool(select.select([sock], [], [], 0)[0])

        proto = Protocol(
            reader.read,
            writer.write,
            close,
            report_activity=self._report_activity,
            shutdown_write=shutdown_write,
        )
        if path.startswith(b"/~"):
            path = path[1:]  # git daemon's user paths: "/~user/repo" is asked for as "~user/repo"
        if cmd == b"upload-pack":
            self.protocol_version = (
                DEFAULT_GIT_PROTOCOL_VERSION_FETCH if protocol_version is None else protocol_version
            )
        else:
            self.protocol_version = DEFAULT_GIT_PROTOCOL_VERSION_SEND
        # Protocol v2 is asked for after two NULs, where daemons that predate it do not look.
        extra = b""
        if cmd == b"upload-pack" and self.protocol_version == 2:
            extra = b"\0\0version=%d\0" % self.protocol_version
        proto.send_cmd(b"git-" + cmd, path, b"host=" + self._host.encode("ascii") + extra)
        return proto, can_read, None
