"""A git smart-HTTP server with Basic auth for the tests, as a pytest plugin (``pytest_plugins``).

``git_http_server`` (session) serves every bare repository under a temporary folder through git's
own ``git http-backend`` (CGI) behind a small threaded stdlib HTTP server on a free 127.0.0.1 port.
Requests without one of the accepted user/password pairs get ``401`` with a ``WWW-Authenticate``
challenge, as a git host does, except for repositories made public. The server can also refuse a
repository with ``403`` and drop the connection of chosen repositories without answering, for the
error-path tests.

``git_repos`` (session) is a :class:`GitRepos` helper that makes repositories with the git CLI.

``git`` (the CLI) and ``git http-backend`` are needed: without them the tests that use these
fixtures fail when ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.servers import need_program

__all__ = ["GitHttpServer", "GitRepos", "git_env", "need_program", "run_git"]

_READY_TIMEOUT = 30.0
HTTP_BACKEND_CANDIDATES = (
    "/usr/lib/git-core/git-http-backend",
    "/usr/libexec/git-core/git-http-backend",
)


def git_env(home: Path | None = None) -> dict[str, str]:
    """An environment for the git CLI that ignores the machine's configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in {"HOME", "XDG_CONFIG_HOME"}
    }
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.com",
        GIT_TERMINAL_PROMPT="0",
        HOME=str(home or Path.cwd()),
    )
    return env


def run_git(*args: str, cwd: Path | None = None, input: bytes | None = None) -> str:
    """Run the git CLI and return its standard output (stripped)."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        env=git_env(cwd),
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode().strip()


@dataclass
class GitHttpServer:
    """A running smart-HTTP server over the bare repositories in :attr:`root`."""

    root: Path
    port: int
    user: str
    password: str = field(repr=False)
    accepted: set[tuple[str, str]] = field(default_factory=set, repr=False)
    forbidden: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    public: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, repository: str) -> str:
        """The URL of ``repository`` (a folder name under :attr:`root`), without credentials."""
        return f"{self.base_url}/{repository}"

    def allow(self, user: str, password: str) -> None:
        """Accept another user/password pair (a rotated or freshly minted token)."""
        self.accepted.add((user, password))

    def revoke(self, user: str, password: str) -> None:
        self.accepted.discard((user, password))

    def posts_to(self, repository: str) -> int:
        """How many pack requests (``POST``) reached ``repository``."""
        return sum(1 for method, path in self.requests if method == "POST" and repository in path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests look at :attr:`GitHttpServer.requests` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        state.requests.append((self.command, path))
        repository = path.lstrip("/").split("/", 1)[0]
        body = self._read_body()
        if repository in state.dropped:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if repository not in state.public and not self._authorised():
            self._reply(
                401, b"authentication required\n", {"WWW-Authenticate": 'Basic realm="git"'}
            )
            return
        if repository in state.forbidden:
            self._reply(403, b"forbidden\n", {})
            return
        self._cgi(body)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (user, password) in self.server.state.accepted

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _cgi(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.state.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "tester",
            "REMOTE_ADDR": "127.0.0.1",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        result = subprocess.run(
            [self.server.backend], input=body, capture_output=True, env=env, check=False
        )
        head, payload = _split_cgi_output(result.stdout)
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers[name.strip()] = value.strip()
        self._reply(status, payload, headers)

    def _reply(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _split_cgi_output(output: bytes) -> tuple[bytes, bytes]:
    """CGI output as (header block, body); the header block ends at the first blank line."""
    ends = [(output.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in output]
    if not ends:
        return output, b""
    index, separator = min(ends)
    return output[:index], output[index + len(separator) :]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, state: GitHttpServer, backend: str) -> None:
        self.state = state
        self.backend = backend
        super().__init__(("127.0.0.1", state.port), _Handler)


def start_git_http_server(root: Path) -> tuple[GitHttpServer, _Server]:
    """Start a server over ``root`` on a free port; returns its state and the server to stop."""
    backend = next((p for p in HTTP_BACKEND_CANDIDATES if Path(p).is_file()), None)
    if backend is None:
        raise RuntimeError("git http-backend is not installed")
    user, password = "ci-user", f"tok-{secrets.token_hex(12)}"
    state = GitHttpServer(root=root, port=0, user=user, password=password)
    state.allow(user, password)
    server = _Server(state, backend)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(f"{state.base_url}/ready/info/refs", timeout=2)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.01)
    return state, server


@dataclass
class GitRepos:
    """Makes repositories with the git CLI under :attr:`root` (the server's folder)."""

    root: Path
    work: Path

    def bare(self, name: str) -> Path:
        """A new empty bare repository ``name`` (such as ``app.git``) with ``main`` as HEAD."""
        path = self.root / name
        run_git("init", "-q", "--bare", "-b", "main", str(path))
        run_git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=path)
        return path

    def worktree(self, name: str) -> Path:
        """A working clone of bare repository ``name`` to commit into and push from."""
        path = self.work / f"{name}-{secrets.token_hex(4)}"
        run_git("clone", "-q", str(self.root / name), str(path))
        run_git("checkout", "-q", "-B", "main", cwd=path)
        return path

    def commit(
        self,
        worktree: Path,
        files: Mapping[str, bytes | None],
        message: str = "change",
        *,
        executable: tuple[str, ...] = (),
        symlinks: Mapping[str, str] | None = None,
        branch: str = "main",
    ) -> str:
        """Write (or delete, for ``None``) ``files``, commit, push ``branch``; returns the sha."""
        for relative, data in files.items():
            target = worktree / relative
            if data is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            target.write_bytes(data)
            target.chmod(0o755 if relative in executable else 0o644)
        for relative, link_target in (symlinks or {}).items():
            target = worktree / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.symlink_to(link_target)
        run_git("add", "-A", cwd=worktree)
        run_git("commit", "-q", "--allow-empty", "-m", message, cwd=worktree)
        run_git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=worktree)
        return run_git("rev-parse", "HEAD", cwd=worktree)

    def fast_import(
        self, name: str, commits: Sequence[Mapping[str, bytes]], branch: str = "main"
    ) -> list[str]:
        """Create ``commits`` (each a full or partial set of files) on ``branch`` quickly.

        Each mapping's files are added or replaced on top of the previous commit. Returns the
        commit shas, oldest first.
        """
        path = self.root / name
        try:
            parent: str | None = run_git("rev-parse", "--verify", "-q", branch, cwd=path)
        except RuntimeError:
            parent = None
        stream = bytearray()
        for number, files in enumerate(commits, start=1):
            stream += f"commit refs/heads/{branch}\nmark :{number}\n".encode()
            stream += f"committer T <t@example.com> {1_700_000_000 + number} +0000\n".encode()
            message = f"commit {number}".encode()
            stream += b"data %d\n%s\n" % (len(message), message)
            if number > 1:
                stream += f"from :{number - 1}\n".encode()
            elif parent:
                stream += f"from {parent}\n".encode()
            for file_path, data in files.items():
                stream += b"M 100644 inline %s\ndata %d\n%s\n" % (
                    file_path.encode(),
                    len(data),
                    data,
                )
            stream += b"\n"
        run_git("fast-import", "--quiet", cwd=path, input=bytes(stream))
        shas = run_git("rev-list", "--reverse", branch, cwd=path).split()
        return shas[-len(commits) :]

    def replace_tip(self, name: str, files: Mapping[str, bytes], branch: str = "main") -> str:
        """Commit exactly ``files`` on ``branch`` of bare repository ``name``; returns the sha.

        Trees are built with ``git hash-object`` and ``git mktree``, so every ``/``-separated
        component is kept as a tree entry as it is, even ``..``, ``.git`` or an empty name
        (``/absolute.py``), which git itself would never check out or commit.
        """
        path = self.root / name
        root: dict[str, Any] = {}
        for file_path, data in files.items():
            *folders, file_name = file_path.split("/")
            node = root
            for folder in folders:
                node = node.setdefault(folder, {})
            node[file_name] = data

        def write_tree(node: Mapping[str, Any]) -> str:
            lines = []
            for entry, value in node.items():
                if isinstance(value, Mapping):
                    lines.append(f"040000 tree {write_tree(value)}\t{entry}\n")
                else:
                    blob = run_git("hash-object", "-w", "--stdin", cwd=path, input=value)
                    lines.append(f"100644 blob {blob}\t{entry}\n")
            return run_git("mktree", cwd=path, input="".join(lines).encode())

        try:
            parent = ["-p", run_git("rev-parse", "--verify", "-q", branch, cwd=path)]
        except RuntimeError:
            parent = []
        commit = run_git("commit-tree", write_tree(root), *parent, "-m", "replace", cwd=path)
        run_git("update-ref", f"refs/heads/{branch}", commit, cwd=path)
        return commit

    def hostile(self, name: str, entries: list[tuple[str, str, bytes]]) -> str:
        """A repository whose only commit's root tree holds ``entries`` as given, unchecked.

        Each entry is ``(mode, name, content)``; mode ``040000`` makes a tree holding one file
        ``x``. The tree is written with ``git mktree`` so names git itself would refuse to check
        out (``..``, ``.git``) are kept.
        """
        path = self.bare(name)
        lines = []
        for mode, entry_name, content in entries:
            blob = run_git("hash-object", "-w", "--stdin", cwd=path, input=content)
            if mode == "040000":
                inner = run_git("mktree", cwd=path, input=f"100644 blob {blob}\tx\n".encode())
                lines.append(f"040000 tree {inner}\t{entry_name}")
            else:
                lines.append(f"{mode} blob {blob}\t{entry_name}")
        tree = run_git("mktree", "--missing", cwd=path, input=("\n".join(lines) + "\n").encode())
        commit = run_git("commit-tree", tree, "-m", "hostile", cwd=path)
        run_git("update-ref", "refs/heads/main", commit, cwd=path)
        return commit


@pytest.fixture(scope="session")
def git_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """The smart-HTTP server (Basic auth) over a session-wide folder of bare repositories."""
    need_program("git", "the git test server runs git http-backend")
    if not any(Path(p).is_file() for p in HTTP_BACKEND_CANDIDATES):
        need_program("git-http-backend", "the git test server runs it")
    root = tmp_path_factory.mktemp("git-repos")
    state, server = start_git_http_server(root)
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def git_repos(git_http_server: GitHttpServer, tmp_path_factory: pytest.TempPathFactory) -> GitRepos:
    """Makes repositories served by :func:`git_http_server`."""
    return GitRepos(git_http_server.root, tmp_path_factory.mktemp("git-work"))
