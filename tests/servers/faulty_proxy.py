"""A fault-injecting HTTP proxy to put in front of a real test server.

Each client connection carries one request: the proxy reads it, forwards it upstream with
``Connection: close`` and relays the answer, unless a planned fault matches the request. Faults:

``reset``      send the first ``after`` bytes of the answer, then reset the connection (RST)
``truncate``   send the first ``after`` bytes of the answer, then close it cleanly (short body)
``corrupt``    send the whole answer with byte ``after`` of its body changed (same length)
``status``     answer ``status`` (429, 500, 503) without asking the server, with ``headers``
``stall``      answer nothing for ``seconds``, then close

``proxy.plan(kind, times=N, match=...)`` makes the next N matching requests fail (``times=None``:
all of them). Used as a context manager it serves on a free 127.0.0.1 port.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Fault", "FaultyProxy", "object_get"]

Match = Callable[[str, str], bool]


def object_get(method: str, target: str) -> bool:
    """GETs of objects (not listings, which carry a query)."""
    return method == "GET" and "?" not in target and target.count("/") >= 2


def any_request(_method: str, _target: str) -> bool:
    return True


@dataclass
class Fault:
    kind: str
    times: int | None
    match: Match
    after: int = 0
    status: int = 503
    seconds: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)
    used: int = 0


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(30)
        request = _read_request(client)
        if request is None:
            return
        head, body = request
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target = [*line.split(" "), "", ""][:2]
        fault = self.server.proxy.take_fault(method, target)
        self.server.proxy.requests.append(f"{method} {target}")
        if fault is not None and fault.kind == "status":
            code = "SlowDown" if fault.status == 503 else "InternalError"
            payload = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            extra = "".join(f"{name}: {value}\r\n" for name, value in fault.headers.items())
            client.sendall(
                f"HTTP/1.1 {fault.status} Injected\r\nContent-Type: application/xml\r\n{extra}"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            return
        if fault is not None and fault.kind == "stall":
            self.server.proxy.stopping.wait(fault.seconds)
            return
        answer = _forward(self.server.proxy.upstream, _close_after(head) + body)
        if fault is None:
            client.sendall(answer)
        elif fault.kind == "corrupt":
            client.sendall(_corrupted(answer, fault.after))
        elif fault.kind == "truncate":
            client.sendall(answer[: fault.after])
        elif fault.kind == "reset":
            client.sendall(answer[: fault.after])
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultyProxy


class FaultyProxy:
    """A proxy to ``upstream`` (``(host, port)``) that fails the requests it is told to."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def plan(
        self,
        kind: str,
        *,
        times: int | None = 1,
        match: Match = object_get,
        after: int = 0,
        status: int = 503,
        seconds: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Fail the next ``times`` requests that ``match`` (all of them for ``None``)."""
        fault = Fault(
            kind, times, match, after=after, status=status, seconds=seconds, headers=headers or {}
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (fault.times is None or fault.used < fault.times) and fault.match(
                    method, target
                ):
                    fault.used += 1
                    return fault
        return None

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


def _read_request(client: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def _corrupted(answer: bytes, offset: int) -> bytes:
    """``answer`` with byte ``offset`` of its body inverted: what only a checksum can catch."""
    at = answer.index(b"\r\n\r\n") + 4 + offset
    if at >= len(answer):
        return answer
    return answer[:at] + bytes([answer[at] ^ 0xFF]) + answer[at + 1 :]


def _close_after(head: bytes) -> bytes:
    """The request head with ``Connection: close`` (one request per upstream connection)."""
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _forward(upstream: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(upstream, timeout=30) as server:
        server.sendall(request)
        chunks = []
        while chunk := server.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
