"""A TCP server that accepts every connection and never sends a byte, as a pytest plugin.

It stands for a git host, a git daemon or a storage endpoint that hangs after the connection is
made (a stuck load balancer, a wedged process): every client must give it up on its own read
timeout. ``silent_server`` (function scope) serves on a free 127.0.0.1 port; connections are
held open, and what clients send is read and dropped, until the test ends.

A client that does not give up would hang its test forever. :func:`run_codeferry` and
:func:`call_bounded` bound every such wait at :data:`HANG`, far beyond what a pull with the
lowered timeouts of :data:`LOWERED` takes (about two seconds), and fail the test past it.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import pytest

__all__ = ["HANG", "LOWERED", "Finished", "SilentServer", "call_bounded", "run_codeferry"]

HANG = 60.0
"""Seconds after which a pull from a silent server counts as hung."""
LOWERED = {"CODEFERRY_CONNECT_TIMEOUT": "1", "CODEFERRY_READ_TIMEOUT": "1"}
"""Settings that make clients give up on a silent server after a second."""


@dataclass(frozen=True)
class Finished:
    """A ``codeferry`` child process that ended: its exit status and standard error lines."""

    returncode: int
    stderr: list[str]


def run_codeferry(*args: str, env: Mapping[str, str] | None = None) -> Finished:
    """``python -m codeferry ARGS`` with :data:`LOWERED` (and ``env``) over this environment.

    Fails the test if it has not ended after :data:`HANG` seconds.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", "codeferry", *args],
            env={**os.environ, **LOWERED, **(env or {})},
            capture_output=True,
            text=True,
            timeout=HANG,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"codeferry {' '.join(args)} still waited after {HANG:g} s", pytrace=False)
    return Finished(done.returncode, done.stderr.strip().splitlines())


def call_bounded(call: Callable[[], object]) -> BaseException | None:
    """What ``call()`` raised (``None`` if nothing), run beside the test for :data:`HANG` seconds
    at most; the test fails if it is still running then (it is left to the silent server's end).
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # handed to the test to judge
            outcome.append(error)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(HANG)
    if not outcome:
        pytest.fail(f"the call still waited after {HANG:g} s", pytrace=False)
    return outcome[0]


class SilentServer:
    """Accepts on :attr:`port` and never answers; :attr:`accepted` counts the connections."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        held: list[socket.socket] = []
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            try:
                while not self._stop.is_set():
                    for key, _ in selector.select(timeout=0.1):
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        if sock is self._listener:
                            self._accept(selector, held)
                        else:
                            self._drain(selector, sock)
            finally:
                for sock in held:
                    sock.close()
                self._listener.close()

    def _accept(self, selector: selectors.BaseSelector, held: list[socket.socket]) -> None:
        try:
            connection, _ = self._listener.accept()
        except BlockingIOError:
            return
        connection.setblocking(False)
        self.accepted += 1
        held.append(connection)
        selector.register(connection, selectors.EVENT_READ)

    @staticmethod
    def _drain(selector: selectors.BaseSelector, sock: socket.socket) -> None:
        """Read what the client sends (so its writes never block) and drop it."""
        try:
            data = sock.recv(65536)
        except (BlockingIOError, ConnectionError):
            return
        if not data:  # the client gave up: keep nothing registered for it
            selector.unregister(sock)


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A server on 127.0.0.1 that accepts connections and never says anything."""
    with SilentServer() as server:
        yield server


@pytest.fixture
def lowered_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """:data:`LOWERED` in this process's environment (for pulls made in the test itself)."""
    for variable, value in LOWERED.items():
        monkeypatch.setenv(variable, value)
