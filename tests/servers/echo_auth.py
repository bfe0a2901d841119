"""A server that repeats the ``Authorization`` header it was sent, as some servers do in errors.

``echo_auth_server`` (function) listens on 127.0.0.1 and answers every request with what
:attr:`EchoAuthServer.answer` makes of the request's path and ``Authorization`` header (status,
headers, body). By default it asks for HTTP Basic credentials first, so clients that only send
them when challenged (httpx) send them too. ``headers`` keeps every header value received.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

__all__ = ["Answer", "EchoAuthServer", "echo_auth_server"]

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class EchoAuthServer:
    """The server's address and what it does with each request."""

    port: int
    answer: Callable[[str, str], Answer]
    headers: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"http://{self.host}/{path.lstrip('/')}"


def _repeat_in_a_400(_path: str, authorization: str) -> Answer:
    if not authorization:
        return 401, {"WWW-Authenticate": 'Basic realm="echo"'}, b""
    body = f'{{"errors": [{{"code": "DENIED", "message": "bad header {authorization}"}}]}}'
    return 400, {"Content-Type": "application/json"}, body.encode()


@pytest.fixture
def echo_auth_server() -> Iterator[EchoAuthServer]:
    """A server on a free port that repeats the credentials it gets (in a 400 by default)."""
    server_state: list[EchoAuthServer] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._answer()

        def do_HEAD(self) -> None:
            self._answer()

        def _answer(self) -> None:
            state = server_state[0]
            authorization = self.headers.get("Authorization") or ""
            state.headers.append(authorization)
            status, headers, body = state.answer(self.path, authorization)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.append(EchoAuthServer(httpd.server_address[1], _repeat_in_a_400))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
