"""OCI registries for the tests, as a pytest plugin (``pytest_plugins``).

``oci_registry`` (session) runs Debian's ``docker-registry`` (the CNCF distribution registry) on
a free 127.0.0.1 port with htpasswd (bcrypt) authentication; ``open_registry`` (session) runs one
without authentication. Both use a configuration written into a temporary folder, are polled on
``/v2/`` until they answer, and are stopped at the end of the session.

``token_registry`` (session) runs one that wants Bearer tokens, issued by a small token server (the
"token dance": 401 with a ``Bearer realm=...,service=...,scope=...`` challenge; the client asks the
realm for a token with Basic auth; the registry checks the token's RS256 signature against the
token server's certificate).

``docker-registry`` and ``htpasswd`` (Debian ``apache2-utils``) are needed: without them the tests
that use these fixtures fail when ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import free_port, need_program, stop

__all__ = ["RegistryServer", "TokenServer", "need_program"]

_READY_TIMEOUT = 30.0
_REGISTRY = "docker-registry"


@dataclass
class RegistryServer:
    """A running registry: where it listens and, with auth, the accepted user and password."""

    port: int
    directory: Path
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def image(self, repository: str, tag: str = "latest") -> str:
        """A reference to ``repository:tag`` in this registry."""
        return f"{self.host}/{repository}:{tag}"


def _write_config(
    directory: Path, port: int, htpasswd: Path | None, token: TokenServer | None = None
) -> Path:
    lines = [
        "version: 0.1",
        "log: {level: warn, accesslog: {disabled: true}}",
        "storage:",
        f"  filesystem: {{rootdirectory: {directory / 'data'}}}",
        "  delete: {enabled: true}",
        "  maintenance: {uploadpurging: {enabled: false}}",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
        "  headers: {X-Content-Type-Options: [nosniff]}",
    ]
    if htpasswd is not None:
        lines += ["auth:", f"  htpasswd: {{realm: codeferry-tests, path: {htpasswd}}}"]
    if token is not None:
        lines += [
            "auth:",
            "  token:",
            f"    realm: {token.url}/token",
            f"    service: {token.service}",
            f"    issuer: {token.issuer}",
            f"    rootcertbundle: {token.certificate}",
        ]
    config = directory / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"docker-registry exited:\n{log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/v2/", timeout=2):
                return
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"docker-registry did not answer on {url} in {_READY_TIMEOUT} s")
        time.sleep(0.02)


@contextlib.contextmanager
def running_registry(
    *, authenticated: bool, token: TokenServer | None = None
) -> Iterator[RegistryServer]:
    """Start a registry in a temporary folder; stop it and remove the folder afterwards."""
    program = need_program(_REGISTRY, "apt-get install docker-registry")
    directory = Path(tempfile.mkdtemp(prefix="codeferry-registry-"))
    username = password = None
    htpasswd = None
    if authenticated:
        tool = need_program("htpasswd", "apt-get install apache2-utils")
        username, password = "ciuser", secrets.token_urlsafe(12)
        # bcrypt (-B): the only hash the distribution registry accepts. The password goes on
        # stdin (-i), never on a command line.
        result = subprocess.run(
            [tool, "-B", "-i", "-n", username],
            input=password.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        )
        htpasswd = directory / "htpasswd"
        htpasswd.write_bytes(result.stdout)
    process = None
    try:
        for _ in range(3):  # a free port may be taken between the probe and the start
            port = free_port()
            config = _write_config(directory, port, htpasswd, token)
            log = directory / "registry.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [program, "serve", str(config)], stdout=output, stderr=output
                )
            try:
                _wait_until_ready(process, f"http://127.0.0.1:{port}", log)
                break
            except RuntimeError:
                process.terminate()
                process.wait(10)
                process = None
        if process is None:
            raise RuntimeError("docker-registry did not start")
        if token is not None:
            username, password = token.username, token.password
        yield RegistryServer(port, directory, username, password)
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def oci_registry() -> Iterator[RegistryServer]:
    """A registry on 127.0.0.1 with htpasswd authentication, for the whole session."""
    with running_registry(authenticated=True) as server:
        yield server


@pytest.fixture(scope="session")
def open_registry() -> Iterator[RegistryServer]:
    """A registry on 127.0.0.1 without authentication, for the whole session."""
    with running_registry(authenticated=False) as server:
        yield server


@dataclass
class TokenServer:
    """Issues registry tokens (JWT, RS256, certificate in ``x5c``) for one user and password.

    Also for one identity (refresh) token, by OAuth2: a form POST with
    ``grant_type=refresh_token``, as Docker sends it for an ``identitytoken`` login.
    """

    directory: Path
    username: str = "tokenuser"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    refresh_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    service: str = "codeferry-test-registry"
    issuer: str = "codeferry-test-issuer"
    port: int = 0
    issued: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._der = certificate.public_bytes(serialization.Encoding.DER)
        self.certificate = self.directory / "token.crt"
        self.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, scopes: list[str]) -> str:
        import base64
        import json as json_module

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": self.username,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            b64(json_module.dumps(header).encode()) + "." + b64(json_module.dumps(claims).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64(signature)


@contextlib.contextmanager
def running_token_server(directory: Path) -> Iterator[TokenServer]:
    import base64
    import json as json_module
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    server = TokenServer(directory)
    expected = "Basic " + base64.b64encode(f"{server.username}:{server.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.headers.get("Authorization") != expected:
                body = b'{"details": "bad credentials"}'
                self.send_response(401)
            else:
                token = server.token(query.get("scope", []))
                server.issued.append(" ".join(query.get("scope", [])))
                body = json_module.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            grant = form.get("grant_type", [""])[0]
            if grant == "refresh_token" and form.get("refresh_token") == [server.refresh_token]:
                scopes = form.get("scope", [""])[0].split()
                server.issued.append(" ".join(scopes))
                body = json_module.dumps(
                    {"access_token": server.token(scopes), "expires_in": 300}
                ).encode()
                self.send_response(200)
            else:
                body = b'{"error": "invalid_grant"}'
                self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.port = http.server_address[1]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()
        thread.join(10)


@pytest.fixture(scope="session")
def token_registry() -> Iterator[tuple[RegistryServer, TokenServer]]:
    """A registry that wants Bearer tokens, and the token server that issues them."""
    directory = Path(tempfile.mkdtemp(prefix="codeferry-token-"))
    try:
        with (
            running_token_server(directory) as tokens,
            running_registry(authenticated=False, token=tokens) as registry,
        ):
            yield registry, tokens
    finally:
        shutil.rmtree(directory, ignore_errors=True)
